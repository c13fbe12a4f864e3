//! An index's records kept by UTC day, so that a query reads only the days its period touches
//! instead of every row.
//!
//! Records arrive mostly in time order, but a phone that was offline for a week delivers last
//! week's records late, and a clock correction can move a stored record's time. Neither needs a
//! re-sort: a row joins the day it belongs to, wherever that day is, and the id map says where
//! each record's row is. Within a day rows stay in arrival order; a query checks each row's time
//! anyway, which matters only in the first and last day of its period.

use std::collections::{BTreeMap, HashMap};

const DAY_MS: i64 = 86_400_000;

/// The UTC day number of an instant (day 0 began at the Unix epoch).
fn day_of(at_ms: i64) -> i64 {
    at_ms.div_euclid(DAY_MS)
}

/// A row the days can hold.
pub trait Dated: Copy {
    /// The instant that decides the row's day (an activity's start).
    fn at_ms(&self) -> i64;
    /// How long after that instant the row still overlaps a period (an activity's duration).
    fn span_ms(&self) -> i64;
    /// Marks a row left behind by its record, so that no query counts it.
    fn kill(&mut self);
}

/// Where a record's row is: its day and its position in that day.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Slot {
    day: i64,
    row: u32,
}

/// Records grouped by UTC day, each day's rows contiguous.
#[derive(Debug)]
pub struct Days<Row> {
    days: BTreeMap<i64, Vec<Row>>,
    slots: HashMap<u128, Slot>,
    rows: usize,
    /// The longest span of any row stored: how far before a period a row can start and still
    /// overlap it.
    longest_ms: i64,
}

impl<Row> Default for Days<Row> {
    fn default() -> Self {
        Self { days: BTreeMap::new(), slots: HashMap::new(), rows: 0, longest_ms: 0 }
    }
}

impl<Row: Dated> Days<Row> {
    /// Stores the record with this key: replaces its row, or adds one if the key is new.
    pub fn put(&mut self, key: u128, record: Row) {
        let day = day_of(record.at_ms());
        self.longest_ms = self.longest_ms.max(record.span_ms());
        if let Some(slot) = self.slots.get(&key).copied()
            && let Some(row) = self.days.get_mut(&slot.day).and_then(|rows| rows.get_mut(slot.row as usize))
        {
            if slot.day == day {
                *row = record;
                return;
            }
            // The record's time moved to another day. Its old row stays where it is, dead, rather
            // than renumbering the rows after it.
            row.kill();
        }
        let rows = self.days.entry(day).or_default();
        // Four billion records in one day of one organisation do not happen; if they did, the
        // extra ones would be left out rather than break the index.
        let Ok(row) = u32::try_from(rows.len()) else { return };
        rows.push(record);
        self.slots.insert(key, Slot { day, row });
        self.rows += 1;
    }

    /// The rows of every day that may hold a row overlapping `[from_ms, to_ms)`, oldest day
    /// first: the days of the range, and for rows with a span the days before it as far as the
    /// longest span. Rows in the first and last days may lie outside the range.
    pub fn overlapping(&self, from_ms: i64, to_ms: i64) -> impl Iterator<Item = &[Row]> {
        // `to_ms - 1` cannot overflow once `from_ms < to_ms`; an empty range reads no day.
        let first = day_of(from_ms.saturating_sub(self.longest_ms));
        let days = (from_ms < to_ms).then(|| self.days.range(first..=day_of(to_ms - 1)));
        days.into_iter().flatten().map(|(_, rows)| rows.as_slice())
    }

    /// The rows of every day.
    pub fn all(&self) -> impl Iterator<Item = &[Row]> {
        self.days.values().map(Vec::as_slice)
    }

    /// Rows held, including dead ones (deleted records and rows left behind by a move).
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Returns the spare capacity of days before the newest two: those grow again only when a
    /// late record arrives, and a day that keeps growing would otherwise hold up to twice its rows.
    pub fn settle(&mut self) {
        let Some(newest) = self.days.keys().next_back().copied() else { return };
        for rows in self.days.range_mut(..newest - 1).map(|(_, rows)| rows) {
            if rows.capacity() > rows.len() {
                rows.shrink_to_fit();
            }
        }
    }

    /// Approximate bytes held by the rows, with the per-day overhead.
    pub fn row_bytes(&self) -> usize {
        let per_day = std::mem::size_of::<i64>() + std::mem::size_of::<Vec<Row>>();
        self.days.values().map(|rows| rows.capacity() * std::mem::size_of::<Row>() + per_day).sum()
    }

    /// Approximate bytes held by the id map: a hash table holds at most 7 entries per 8 buckets,
    /// each bucket an entry and a control byte.
    pub fn id_map_bytes(&self) -> usize {
        self.slots.capacity() * 8 / 7 * (std::mem::size_of::<(u128, Slot)>() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::index::{Act, LIVE, Obs};

    fn obs(at_ms: i64, severity: u8) -> Obs {
        Obs { at_ms, cell: 0, category: 0, unit: 0, area: 0, severity, safety: 3, hour_of_week: 0, flags: LIVE }
    }

    fn live_in(days: &Days<Obs>, from_ms: i64, to_ms: i64) -> Vec<(i64, u8)> {
        let mut found: Vec<(i64, u8)> = days
            .overlapping(from_ms, to_ms)
            .flatten()
            .filter(|o| o.flags & LIVE != 0 && (from_ms..to_ms).contains(&o.at_ms))
            .map(|o| (o.at_ms, o.severity))
            .collect();
        found.sort_unstable();
        found
    }

    #[test]
    fn a_late_record_joins_its_own_day() {
        let mut days = Days::<Obs>::default();
        days.put(1, obs(10 * DAY_MS + 5, 1));
        days.put(2, obs(12 * DAY_MS + 5, 2));
        days.put(3, obs(11 * DAY_MS + 5, 3));
        let rows: Vec<Vec<u8>> = days.all().map(|rows| rows.iter().map(|o| o.severity).collect()).collect();
        assert_eq!(rows, vec![vec![1], vec![3], vec![2]]);
        assert_eq!(live_in(&days, 11 * DAY_MS, 12 * DAY_MS), vec![(11 * DAY_MS + 5, 3)]);
    }

    #[test]
    fn a_range_reads_only_the_days_it_overlaps() {
        let mut days = Days::<Obs>::default();
        for day in 0..10 {
            days.put(day as u128, obs(day * DAY_MS + 1, 1));
        }
        assert_eq!(days.overlapping(3 * DAY_MS, 5 * DAY_MS).count(), 2);
        assert_eq!(days.overlapping(3 * DAY_MS + 1, 5 * DAY_MS + 1).count(), 3);
        assert_eq!(days.overlapping(5 * DAY_MS, 5 * DAY_MS).count(), 0, "an empty range");
        assert_eq!(days.overlapping(6 * DAY_MS, 2 * DAY_MS).count(), 0, "a reversed range");
        assert_eq!(days.overlapping(i64::MIN, i64::MAX).count(), 10);
    }

    #[test]
    fn a_range_reaches_back_to_rows_that_started_before_it_and_last_into_it() {
        let activity =
            |start_ms: i64, end_ms: i64| Act { start_ms, end_ms, kind: 0, unit: 0, area: 0, contacts: 0, flags: LIVE };
        let mut days = Days::<Act>::default();
        days.put(1, activity(2 * DAY_MS, 2 * DAY_MS + 3_600_000));
        days.put(2, activity(5 * DAY_MS, 5 * DAY_MS));
        let starts = |days: &Days<Act>, from_ms, to_ms| -> Vec<i64> {
            days.overlapping(from_ms, to_ms).flatten().map(|a| a.start_ms).collect()
        };
        // The longest span is an hour: a range from 00:00 reads the day before, from 01:00 it need not.
        assert_eq!(starts(&days, 3 * DAY_MS, 6 * DAY_MS), vec![2 * DAY_MS, 5 * DAY_MS]);
        assert_eq!(starts(&days, 3 * DAY_MS + 3_600_000, 6 * DAY_MS), vec![5 * DAY_MS]);
        // A shift from day 2 into day 4 must be found by a range that starts on day 4.
        days.put(3, activity(2 * DAY_MS + 1, 4 * DAY_MS + 1));
        assert_eq!(starts(&days, 4 * DAY_MS, 6 * DAY_MS), vec![2 * DAY_MS, 2 * DAY_MS + 1, 5 * DAY_MS]);
        assert_eq!(starts(&days, 9 * DAY_MS, 10 * DAY_MS), Vec::<i64>::new(), "two days back, and no further");
    }

    #[test]
    fn times_before_the_epoch_fall_in_their_own_day() {
        let mut days = Days::<Obs>::default();
        days.put(1, obs(-1, 1));
        days.put(2, obs(0, 2));
        assert_eq!(live_in(&days, -DAY_MS, 0), vec![(-1, 1)]);
        assert_eq!(live_in(&days, 0, DAY_MS), vec![(0, 2)]);
    }

    #[test]
    fn an_update_in_the_same_day_replaces_the_row() {
        let mut days = Days::<Obs>::default();
        days.put(1, obs(DAY_MS + 5, 1));
        days.put(2, obs(DAY_MS + 6, 2));
        days.put(1, obs(DAY_MS + 7, 4));
        assert_eq!(days.len(), 2);
        assert_eq!(live_in(&days, 0, 3 * DAY_MS), vec![(DAY_MS + 6, 2), (DAY_MS + 7, 4)]);
    }

    #[test]
    fn a_record_moved_to_another_day_counts_once_and_stays_reachable() {
        let mut days = Days::<Obs>::default();
        days.put(1, obs(DAY_MS + 5, 1));
        days.put(2, obs(DAY_MS + 6, 2));
        days.put(1, obs(3 * DAY_MS + 5, 1));
        assert_eq!(live_in(&days, 0, 5 * DAY_MS), vec![(DAY_MS + 6, 2), (3 * DAY_MS + 5, 1)]);
        // Later changes land on the new row, not on the one left behind.
        let mut deleted = obs(3 * DAY_MS + 5, 1);
        deleted.flags = 0;
        days.put(1, deleted);
        assert_eq!(live_in(&days, 0, 5 * DAY_MS), vec![(DAY_MS + 6, 2)]);
        days.put(1, obs(3 * DAY_MS + 5, 5));
        assert_eq!(live_in(&days, 0, 5 * DAY_MS), vec![(DAY_MS + 6, 2), (3 * DAY_MS + 5, 5)]);
        // And back to its first day: a new row there, the other one's untouched.
        days.put(1, obs(DAY_MS + 9, 3));
        assert_eq!(live_in(&days, 0, 5 * DAY_MS), vec![(DAY_MS + 6, 2), (DAY_MS + 9, 3)]);
        assert_eq!(days.len(), 4, "two rows left behind, dead");
    }

    #[test]
    fn settling_frees_spare_rows_of_old_days_only() {
        let mut days = Days::<Obs>::default();
        for i in 0..5u32 {
            for day in 0..4 {
                days.put(u128::from(i) * 10 + day as u128, obs(day * DAY_MS + i64::from(i), 1));
            }
        }
        let spare = |days: &Days<Obs>| -> Vec<bool> { days.days.values().map(|r| r.capacity() > r.len()).collect() };
        assert_eq!(spare(&days), vec![true; 4]);
        days.settle();
        assert_eq!(spare(&days), vec![false, false, true, true]);
        assert_eq!(live_in(&days, 0, 4 * DAY_MS).len(), 20);
    }
}
