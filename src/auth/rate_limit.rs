//! Login limits per account and per client address (GCRA, in memory, per process).

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::time::Duration;

/// Two keyed limits, both of which a login attempt must pass.
pub struct LoginLimiter {
    per_account: DefaultKeyedRateLimiter<String>,
    per_address: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl LoginLimiter {
    /// `attempts` per `window` for each account and each address, with the whole allowance
    /// available at once.
    pub fn new(per_account: u32, per_address: u32, window: Duration) -> Self {
        Self {
            per_account: DefaultKeyedRateLimiter::keyed(quota(per_account, window)),
            per_address: DefaultKeyedRateLimiter::keyed(quota(per_address, window)),
            clock: DefaultClock::default(),
        }
    }

    /// Counts an attempt; `Err` carries how long the caller must wait.
    pub fn check(&self, organisation: &str, username: &str, address: &str) -> Result<(), Duration> {
        let account = format!("{}\u{0}{}", organisation.trim().to_lowercase(), username.trim().to_lowercase());
        let now = self.clock.now();
        // The address is checked first so that one address cannot lock every account it guesses.
        self.per_address.check_key(&address.to_owned()).map_err(|not_until| not_until.wait_time_from(now))?;
        self.per_account.check_key(&account).map_err(|not_until| not_until.wait_time_from(now))
    }

    /// Forgets keys whose allowance is full again, so memory stays bounded.
    pub fn forget_idle(&self) {
        self.per_account.retain_recent();
        self.per_address.retain_recent();
    }
}

fn quota(attempts: u32, window: Duration) -> Quota {
    let attempts = NonZeroU32::new(attempts).unwrap_or(NonZeroU32::MIN);
    let period = (window / attempts.get()).max(Duration::from_millis(1));
    Quota::with_period(period).unwrap_or_else(|| Quota::per_second(attempts)).allow_burst(attempts)
}
