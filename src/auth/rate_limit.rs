//! Login limits per account and per client address (GCRA), kept in the database so that every
//! process serving it counts the same attempts: with several processes behind a load balancer,
//! limits per process would let each address or account try once per process.

use crate::db::DbConnection;
use crate::db::queries::login_limits::{self, Limit};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::time::Duration;

/// How many refused keys a process remembers before it drops those whose refusal has run out.
const REMEMBERED_REFUSALS: usize = 10_000;

/// Two limits, both of which a login attempt must pass.
pub struct LoginLimiter {
    per_account: Allowance,
    per_address: Allowance,
    /// Keys the digests, so that the stored keys cannot be turned back into addresses (there are
    /// few enough IPv4 addresses to try them all) or names: the SHA-256 of the signing key, which
    /// every process serving the database shares.
    salt: [u8; 32],
    /// Keys the database refused, until when (ms): an attempt on one of them is refused here,
    /// without a write, so hammering a locked account or address costs the database nothing.
    /// Only refusals are kept, and a refusal can only end by time passing, so this never refuses
    /// an attempt the database would allow.
    refused: Mutex<HashMap<String, i64>>,
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
            refused: Mutex::new(HashMap::new()),
        }
    }

    /// Counts an attempt; the inner `Err` carries how long the caller must wait.
    pub fn check(
        &self,
        conn: &mut DbConnection,
        organisation: &str,
        username: &str,
        address: &str,
    ) -> crate::db::QueryResult<Result<(), Duration>> {
        let account =
            format!("account\u{0}{}\u{0}{}", organisation.trim().to_lowercase(), username.trim().to_lowercase());
        // The address is checked first so that one address cannot lock every account it guesses.
        let limits = [
            self.per_address.limit(&self.salt, &format!("address\u{0}{address}")),
            self.per_account.limit(&self.salt, &account),
        ];
        let now_ms = chrono::Utc::now().timestamp_millis();
        if let Some(wait_ms) = self.remembered(&limits, now_ms) {
            return Ok(Err(wait(wait_ms)));
        }
        Ok(login_limits::take(conn, &limits, now_ms)?.map_err(|refusal| {
            if let Some(limit) = limits.get(refusal.limit) {
                self.remember(&limit.key, now_ms + refusal.wait_ms, now_ms);
            }
            wait(refusal.wait_ms)
        }))
    }

    /// The longest wait a remembered refusal of one of these keys still imposes.
    fn remembered(&self, limits: &[Limit], now_ms: i64) -> Option<i64> {
        let refused = self.refused.lock();
        limits.iter().filter_map(|limit| refused.get(&limit.key)).map(|until| until - now_ms).filter(|w| *w > 0).max()
    }

    fn remember(&self, key: &str, until_ms: i64, now_ms: i64) {
        let mut refused = self.refused.lock();
        if refused.len() >= REMEMBERED_REFUSALS {
            refused.retain(|_, until| *until > now_ms);
        }
        if refused.len() < REMEMBERED_REFUSALS {
            refused.insert(key.to_owned(), until_ms);
        }
    }

    /// Forgets the keys whose whole allowance is back, so the table stays small; returns how many.
    /// (Remembered refusals run out by themselves.)
    pub fn forget_idle(conn: &mut DbConnection) -> crate::db::QueryResult<usize> {
        login_limits::forget_idle(conn, chrono::Utc::now().timestamp_millis())
    }
}

fn wait(wait_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0).max(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(limiter: &LoginLimiter) -> [Limit; 2] {
        [limiter.per_address.limit(&limiter.salt, "address"), limiter.per_account.limit(&limiter.salt, "account")]
    }

    #[test]
    fn a_remembered_refusal_holds_until_it_runs_out() {
        let limiter = LoginLimiter::new(3, 5, Duration::from_secs(60), b"a signing key");
        let limits = limits(&limiter);
        assert_eq!(limiter.remembered(&limits, 1_000), None);
        limiter.remember(&limits[1].key, 21_000, 1_000);
        limiter.remember(&limits[0].key, 6_000, 1_000);
        assert_eq!(limiter.remembered(&limits, 1_000), Some(20_000), "the longer of the two");
        assert_eq!(limiter.remembered(&limits, 20_999), Some(1));
        assert_eq!(limiter.remembered(&limits, 21_000), None);
    }

    #[test]
    fn a_full_memory_drops_the_refusals_that_ran_out() {
        let limiter = LoginLimiter::new(3, 5, Duration::from_secs(60), b"a signing key");
        for n in 0..REMEMBERED_REFUSALS {
            limiter.remember(&n.to_string(), 10, 0);
        }
        limiter.remember("still refused", 200, 100);
        assert_eq!(limiter.refused.lock().len(), 1);
    }

    #[test]
    fn keys_are_digests_that_depend_on_the_signing_key() {
        let one = LoginLimiter::new(3, 5, Duration::from_secs(60), b"one key");
        let other = LoginLimiter::new(3, 5, Duration::from_secs(60), b"another key");
        let key = &limits(&one)[0].key;
        assert_eq!(key.len(), 64);
        assert!(!key.contains("address"));
        assert_ne!(key, &limits(&other)[0].key);
        assert_eq!(limits(&one)[0].interval_ms, 12_000, "five attempts a minute");
        assert_eq!(limits(&one)[1].tolerance_ms, 40_000, "three at once");
    }
}
