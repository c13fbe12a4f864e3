//! Login limits per account and per client address (GCRA), kept in the database so that every
//! process serving it counts the same attempts: with several processes behind a load balancer,
//! limits per process would let each address or account try once per process.

use crate::db::DbConnection;
use crate::db::queries::login_limits::{self, Limit};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Two limits, both of which a login attempt must pass.
pub struct LoginLimiter {
    per_account: Allowance,
    per_address: Allowance,
    /// Keys the digests, so that the stored keys cannot be turned back into addresses (there are
    /// few enough IPv4 addresses to try them all) or names: the SHA-256 of the signing key, which
    /// every process serving the database shares.
    salt: [u8; 32],
}

/// An allowance of attempts per window, all of it available at once.
#[derive(Debug, Clone, Copy)]
struct Allowance {
    interval_ms: i64,
    tolerance_ms: i64,
}

impl Allowance {
    fn new(attempts: u32, window: Duration) -> Self {
        let attempts = i64::from(attempts.max(1));
        let window_ms = i64::try_from(window.as_millis()).unwrap_or(i64::MAX / 2);
        let interval_ms = (window_ms / attempts).max(1);
        Self { interval_ms, tolerance_ms: interval_ms * (attempts - 1) }
    }

    fn limit(self, salt: &[u8; 32], what: &str) -> Limit {
        Limit {
            key: hex::encode(Sha256::new().chain_update(salt).chain_update(what.as_bytes()).finalize()),
            interval_ms: self.interval_ms,
            tolerance_ms: self.tolerance_ms,
        }
    }
}

impl LoginLimiter {
    /// `per_account` attempts per `window` for each account and `per_address` for each address;
    /// `signing_key` keys the stored digests.
    pub fn new(per_account: u32, per_address: u32, window: Duration, signing_key: &[u8]) -> Self {
        Self {
            per_account: Allowance::new(per_account, window),
            per_address: Allowance::new(per_address, window),
            salt: Sha256::digest(signing_key).into(),
        }
    }

    /// Counts an attempt; the inner `Err` carries how long the caller must wait.
    pub fn check(
        &self,
        conn: &mut DbConnection,
        organisation: &str,
        username: &str,
        address: &str,
    ) -> diesel::QueryResult<Result<(), Duration>> {
        let account =
            format!("account\u{0}{}\u{0}{}", organisation.trim().to_lowercase(), username.trim().to_lowercase());
        // The address is checked first so that one address cannot lock every account it guesses.
        let limits = [
            self.per_address.limit(&self.salt, &format!("address\u{0}{address}")),
            self.per_account.limit(&self.salt, &account),
        ];
        let now_ms = chrono::Utc::now().timestamp_millis();
        Ok(login_limits::take(conn, &limits, now_ms)?
            .map_err(|wait_ms| Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0).max(1))))
    }

    /// Forgets the keys whose whole allowance is back, so the table stays small; returns how many.
    pub fn forget_idle(conn: &mut DbConnection) -> diesel::QueryResult<usize> {
        login_limits::forget_idle(conn, chrono::Utc::now().timestamp_millis())
    }
}
