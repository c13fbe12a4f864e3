//! The revocation cache: lets every request check "disabled? revoked? logged out?" without a
//! database round trip. Each process loads the gates when the database's revocation generation
//! moves: at once after a change it made itself, and within `revocation_poll_ms` after a change
//! made by another process (another server, or the command line).

use super::tokens::Claims;
use crate::db::{DbConnection, queries::auth_state};
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};

/// Why a well-signed token no longer admits its bearer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The user was disabled.
    AccountDisabled,
    /// The device was revoked.
    DeviceRevoked,
    /// The session ended (logout, password reset, role change, a replayed refresh token).
    SessionEnded,
}

#[derive(Default)]
struct Gates {
    generation: i64,
    /// user id -> (token generation, disabled); users absent here are at generation 0, enabled.
    users: HashMap<String, (i64, bool)>,
    /// (organisation id, device id) -> (token generation, revoked).
    devices: HashMap<(String, String), (i64, bool)>,
    /// The organisations there were when the gates were read.
    organisations: HashSet<String>,
    /// When the gates were read (seconds since the epoch, taken just before), 0 before the first
    /// read.
    read_at: i64,
}

/// How far apart the clocks of the processes issuing and checking tokens may be, in seconds.
const CLOCK_MARGIN_SECS: i64 = 2;

/// The in-memory gates, shared by all workers of a process.
#[derive(Default)]
pub struct RevocationCache {
    gates: RwLock<Gates>,
}

impl RevocationCache {
    /// Whether the token's user and device are still admitted.
    pub fn check(&self, claims: &Claims) -> Result<(), Refusal> {
        let gates = self.gates.read();
        let (user_generation, disabled) = gates.users.get(&claims.sub).copied().unwrap_or((0, false));
        let device_key = (claims.org.clone(), claims.dev.clone());
        let (device_generation, revoked) = gates.devices.get(&device_key).copied().unwrap_or((0, false));
        // A token issued while its organisation existed, whose organisation the gates (read
        // after it was issued) no longer hold: the organisation was deleted (`demo --reset`).
        // An organisation created after the read is not in the gates yet, but neither can a
        // token of it be older than the read.
        let deleted_organisation = gates.read_at > 0
            && claims.iat < gates.read_at - CLOCK_MARGIN_SECS
            && !gates.organisations.contains(&claims.org);
        if deleted_organisation {
            Err(Refusal::SessionEnded)
        } else if disabled {
            Err(Refusal::AccountDisabled)
        } else if revoked {
            Err(Refusal::DeviceRevoked)
        } else if claims.ugen < user_generation || claims.dgen < device_generation {
            // A token newer than this process's view is fine: another process issued it after a
            // change this one has not loaded yet.
            Err(Refusal::SessionEnded)
        } else {
            Ok(())
        }
    }

    /// The generation last loaded.
    pub fn generation(&self) -> i64 {
        self.gates.read().generation
    }

    /// Reloads the gates if the database's generation moved; returns whether it did.
    pub fn refresh(&self, conn: &mut DbConnection) -> crate::db::QueryResult<bool> {
        let current = auth_state::generation(conn)?;
        if current == self.generation() {
            return Ok(false);
        }
        self.reload(conn)?;
        Ok(true)
    }

    /// Loads every gate from the database.
    pub fn reload(&self, conn: &mut DbConnection) -> crate::db::QueryResult<()> {
        let read_at = chrono::Utc::now().timestamp();
        let auth_state::Gates { generation, users, devices, organisations } = auth_state::load_gates(conn)?;
        let gates = Gates {
            generation,
            users: users.into_iter().map(|gate| (gate.id, (gate.token_generation, gate.disabled))).collect(),
            organisations: organisations.into_iter().collect(),
            read_at,
            devices: devices
                .into_iter()
                .map(|gate| ((gate.organisation_id, gate.id), (gate.token_generation, gate.revoked)))
                .collect(),
        };
        let mut current = self.gates.write();
        // Two reloads may race; the newer view wins.
        if gates.generation >= current.generation {
            *current = gates;
        }
        Ok(())
    }
}
