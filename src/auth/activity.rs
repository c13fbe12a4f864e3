//! When each device was last seen: noted in memory on every request, written in batches.

use chrono::NaiveDateTime;
use parking_lot::Mutex;
use std::collections::HashMap;

/// Last-seen times not yet written to the database.
#[derive(Default)]
pub struct DeviceActivity {
    pending: Mutex<HashMap<(String, String), NaiveDateTime>>,
}

impl DeviceActivity {
    /// Notes that the device made a request now.
    pub fn seen(&self, organisation_id: &str, device_id: &str, at: NaiveDateTime) {
        let mut pending = self.pending.lock();
        pending.insert((organisation_id.to_owned(), device_id.to_owned()), at);
    }

    /// Takes everything noted so far, for writing.
    pub fn drain(&self) -> Vec<((String, String), NaiveDateTime)> {
        self.pending.lock().drain().collect()
    }
}
