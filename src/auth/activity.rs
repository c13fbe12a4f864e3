//! What each device did lately (last request, last pull, its clock skew and queue depth): noted
//! in memory on every request, written in batches, so reads never wait for a write.

use crate::db::queries::devices::Seen;
use chrono::NaiveDateTime;
use parking_lot::Mutex;
use std::collections::BTreeMap;

/// News not yet written to the database, by (organisation id, device id), in key order: every
/// process then writes device rows in the same order, so two processes flushing the same devices
/// wait for each other instead of deadlocking.
#[derive(Default)]
pub struct DeviceActivity {
    pending: Mutex<BTreeMap<(String, String), Seen>>,
}

impl DeviceActivity {
    fn update(&self, organisation_id: &str, device_id: &str, change: impl FnOnce(&mut Seen)) {
        let mut pending = self.pending.lock();
        change(pending.entry((organisation_id.to_owned(), device_id.to_owned())).or_default());
    }

    /// Notes that the device made a request now.
    pub fn seen(&self, organisation_id: &str, device_id: &str, at: NaiveDateTime) {
        self.update(organisation_id, device_id, |seen| seen.last_seen = Some(at));
    }

    /// Notes a pull and what its headers said.
    pub fn pulled(
        &self,
        organisation_id: &str,
        device_id: &str,
        at: NaiveDateTime,
        clock_skew_ms: Option<i64>,
        pending_count: Option<i64>,
    ) {
        self.synced(organisation_id, device_id, clock_skew_ms, pending_count, |seen| seen.last_pull = Some(at));
    }

    /// Notes a stored push and what its headers said.
    pub fn pushed(
        &self,
        organisation_id: &str,
        device_id: &str,
        at: NaiveDateTime,
        clock_skew_ms: Option<i64>,
        pending_count: Option<i64>,
    ) {
        self.synced(organisation_id, device_id, clock_skew_ms, pending_count, |seen| seen.last_push = Some(at));
    }

    /// Notes a sync request: what `mark` sets, and what its headers said.
    fn synced(
        &self,
        organisation_id: &str,
        device_id: &str,
        clock_skew_ms: Option<i64>,
        pending_count: Option<i64>,
        mark: impl FnOnce(&mut Seen),
    ) {
        self.update(organisation_id, device_id, |seen| {
            mark(seen);
            seen.clock_skew_ms = clock_skew_ms.or(seen.clock_skew_ms);
            seen.pending_count = pending_count.or(seen.pending_count);
        });
    }

    /// Takes everything noted so far, for writing.
    pub fn drain(&self) -> Vec<((String, String), Seen)> {
        std::mem::take(&mut *self.pending.lock()).into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn news_is_handed_out_in_key_order_whatever_order_it_came_in() {
        let activity = DeviceActivity::default();
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default().naive_utc();
        for device in ["phone-9", "phone-1", "phone-5", "phone-10", "phone-3"] {
            activity.seen("org-b", device, at);
            activity.seen("org-a", device, at);
        }
        let keys: Vec<(String, String)> = activity.drain().into_iter().map(|(key, _)| key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys.len(), 10);
        assert_eq!(keys, sorted);
        assert!(activity.drain().is_empty());
    }
}
