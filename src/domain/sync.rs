//! The sync rules, free of HTTP and SQL: which bucket a pulled record goes in, whether a pushed
//! change applies or conflicts, the synced tables, and the page token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

/// The protocol this server speaks.
pub const PROTOCOL_VERSION: i64 = 1;
/// The oldest client schema version still served.
pub const SCHEMA_VERSION_MIN: i64 = 1;
/// The newest client schema version served.
pub const SCHEMA_VERSION_MAX: i64 = 3;

/// Where a changed record goes in a pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// New to the pulling device.
    Created,
    /// The device has (or had) it.
    Updated,
}

/// A record that did not exist at the cursor is `created`, unless the pulling device pushed it
/// itself (it already has it): then it is `updated`, as every changed record is.
pub fn bucket(created_seq: i64, origin_device: &str, cursor: Option<i64>, pulling_device: &str) -> Bucket {
    let existed = cursor.is_some_and(|cursor| created_seq <= cursor);
    if existed || origin_device == pulling_device { Bucket::Updated } else { Bucket::Created }
}

/// What to do with one pushed change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Store it.
    Apply,
    /// It is what is stored already (a replayed push): nothing to do.
    Unchanged,
    /// The fields the pusher owns changed on the server since the device last pulled.
    Conflict,
}

/// Decides a pushed update of a stored record. `owned_seq` is the sequence at which the fields
/// the pusher owns last changed; a device that never pulled has seen no version.
///
/// A change made since the device's cursor conflicts even when this very device made it: a
/// delayed or reordered copy of an older push must not overwrite a newer version, and the device
/// resolves the conflict by pulling (which `synchronize()` does before every push anyway).
pub fn decide(owned_seq: i64, cursor: Option<i64>, same_as_stored: bool) -> Decision {
    if same_as_stored {
        Decision::Unchanged
    } else if cursor.is_none_or(|cursor| owned_seq > cursor) {
        Decision::Conflict
    } else {
        Decision::Apply
    }
}

/// The position of a pull between pages: the snapshot's high-water mark and the last record
/// sent, ordered by (sequence, table, id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken {
    /// The high-water mark of the first page; the pull's final `timestamp`.
    #[serde(rename = "h")]
    pub high_water: i64,
    /// The cursor the pull started from (`None`: everything).
    #[serde(rename = "c")]
    pub cursor: Option<i64>,
    /// Whether the pull is a replacement snapshot.
    #[serde(rename = "r")]
    pub replacement: bool,
    /// The last record sent.
    #[serde(rename = "p")]
    pub after: Position,
}

/// A record's place in the pull order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Position {
    pub seq: i64,
    pub table: u8,
    pub id: String,
}

impl PageToken {
    /// The opaque text form.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Reads a token; `None` if it is not one of ours (ours never hold U+0000, which no
    /// database is asked to compare).
    pub fn decode(text: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        serde_json::from_slice::<Self>(&bytes).ok().filter(|token| !token.after.id.contains('\0'))
    }
}

/// The tables a pull carries, in their tie-break order within one sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncedTable {
    Categories = 0,
    ActivityTypes = 1,
    Units = 2,
    Observations = 3,
    ActivityLogs = 4,
    Areas = 5,
    Feedback = 6,
    Attachments = 7,
}

impl SyncedTable {
    /// Every table, in order.
    pub const ALL: [SyncedTable; 8] = [
        Self::Categories,
        Self::ActivityTypes,
        Self::Units,
        Self::Areas,
        Self::Observations,
        Self::ActivityLogs,
        Self::Feedback,
        Self::Attachments,
    ];

    /// The table's name in the protocol.
    pub fn name(self) -> &'static str {
        match self {
            Self::Categories => "categories",
            Self::ActivityTypes => "activity_types",
            Self::Units => "units",
            Self::Observations => "observations",
            Self::ActivityLogs => "activity_logs",
            Self::Areas => "areas",
            Self::Feedback => "feedback",
            Self::Attachments => "attachments",
        }
    }

    /// The first app schema version that has the table: a pull with an older one neither
    /// carries nor lists it.
    pub fn since_schema(self) -> i64 {
        match self {
            Self::Feedback => 2,
            Self::Attachments => 3,
            _ => 1,
        }
    }

    /// The table a protocol name means.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|table| table.name() == name)
    }

    /// The tables phones push: the records' tables.
    pub const RECORDS: [SyncedTable; 2] = [Self::Observations, Self::ActivityLogs];

    /// The records' table of this name; `None` for a table that syncs down only, or none.
    pub fn record(name: &str) -> Option<Self> {
        Self::RECORDS.into_iter().find(|table| table.name() == name)
    }

    /// The tables phones push: the records' and the photo attachments'.
    pub const PUSHED: [SyncedTable; 3] = [Self::Observations, Self::ActivityLogs, Self::Attachments];

    /// The pushed table of this name; `None` for a table that syncs down only, or none.
    pub fn pushed(name: &str) -> Option<Self> {
        Self::PUSHED.into_iter().find(|table| table.name() == name)
    }

    /// Its place in the pull order within one sequence number.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

/// Rows a table may send in this page: after the position, not above the high-water mark.
pub struct Range {
    pub high_water: i64,
    pub after: Position,
    /// A first sync or replacement: tombstones are not sent.
    pub snapshot: bool,
}

/// The lower bound of one table's rows, given the position of the last row sent.
pub enum After {
    /// Rows with a greater sequence number.
    Seq(i64),
    /// Rows with this or a greater sequence number.
    SeqOrEqual(i64),
    /// Rows after (sequence, id).
    Key(i64, String),
}

impl Range {
    /// The bound for `table`: rows ordered by (seq, table, id) after the position.
    pub fn after_for(&self, table: SyncedTable) -> After {
        let rank = table.rank();
        match rank.cmp(&self.after.table) {
            std::cmp::Ordering::Greater => After::SeqOrEqual(self.after.seq),
            std::cmp::Ordering::Less => After::Seq(self.after.seq),
            std::cmp::Ordering::Equal => After::Key(self.after.seq, self.after.id.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_new_since_the_cursor_is_created_unless_this_device_pushed_it() {
        assert_eq!(bucket(10, "a", Some(5), "b"), Bucket::Created);
        assert_eq!(bucket(10, "a", Some(5), "a"), Bucket::Updated);
        assert_eq!(bucket(3, "a", Some(5), "b"), Bucket::Updated);
        assert_eq!(bucket(3, "a", None, "b"), Bucket::Created);
    }

    #[test]
    fn an_update_conflicts_only_when_owned_fields_moved_since_the_cursor() {
        assert_eq!(decide(4, Some(5), false), Decision::Apply);
        assert_eq!(decide(6, Some(5), false), Decision::Conflict);
        assert_eq!(decide(6, Some(5), true), Decision::Unchanged);
        assert_eq!(decide(1, None, false), Decision::Conflict);
    }

    proptest! {
        #[test]
        fn page_tokens_round_trip(h in 1i64.., c in proptest::option::of(0i64..), seq in 0i64.., table in 0u8..8, id in "[^\u{0}]{0,40}") {
            let token = PageToken { high_water: h, cursor: c, replacement: c.is_none(), after: Position { seq, table, id } };
            prop_assert_eq!(PageToken::decode(&token.encode()), Some(token));
        }

        #[test]
        fn a_token_whose_id_holds_nul_is_not_ours(h in 1i64.., seq in 0i64.., before in "[^\u{0}]{0,20}", after in ".{0,20}") {
            let id = format!("{before}\u{0}{after}");
            let token = PageToken { high_water: h, cursor: None, replacement: true, after: Position { seq, table: 3, id } };
            prop_assert_eq!(PageToken::decode(&token.encode()), None);
        }

        #[test]
        fn arbitrary_text_is_never_a_token_that_panics(text in ".{0,200}") {
            let _ = PageToken::decode(&text);
        }
    }
}
