//! Failed-login throttling, per username and per client address.
//!
//! After `per_user` failures for one username within the window, every login
//! for that name gets "try again later" until the oldest failure leaves the
//! window, right password or not. A budget per client address stops one
//! client from sweeping many usernames below the per-user limit.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// How many distinct usernames or addresses are tracked before the oldest
/// entries are dropped, so an attacker cannot grow this without bound.
const MAX_TRACKED: usize = 100_000;

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed per username within the window.
    pub per_user: usize,
    /// Failures allowed per client address within the window.
    pub per_address: usize,
    /// Window length in seconds.
    pub window: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_user: 5,
            per_address: 100,
            window: 15 * 60,
        }
    }
}

/// Recent failures by username and by address.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    users: HashMap<String, VecDeque<i64>>,
    addresses: HashMap<IpAddr, VecDeque<i64>>,
}

impl LoginThrottle {
    /// A throttle with these limits.
    pub fn new(limits: ThrottleLimits) -> Self {
        LoginThrottle {
            limits,
            state: Mutex::new(State::default()),
        }
    }

    /// `Some(seconds to wait)` when a login for `user_key` from `address` must
    /// be refused at `now`.
    pub fn check(&self, user_key: &str, address: Option<IpAddr>, now: i64) -> Option<i64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.limits.window;
        let user_wait = blocked(state.users.get_mut(user_key), self.limits.per_user, now, window);
        let address_wait =
            address.and_then(|a| blocked(state.addresses.get_mut(&a), self.limits.per_address, now, window));
        user_wait.max(address_wait)
    }

    /// Records a failed login.
    pub fn failed(&self, user_key: &str, address: Option<IpAddr>, now: i64) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.limits.window;
        record(&mut state.users, user_key.to_owned(), now, window);
        if let Some(address) = address {
            record(&mut state.addresses, address, now, window);
        }
    }

    /// Forgets the failures of `user_key` after a successful login.
    pub fn succeeded(&self, user_key: &str) {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .users
            .remove(user_key);
    }
}

/// Drops failures older than the window; returns the wait if `limit` remain.
fn blocked(failures: Option<&mut VecDeque<i64>>, limit: usize, now: i64, window: i64) -> Option<i64> {
    let failures = failures?;
    while failures.front().is_some_and(|&t| t <= now - window) {
        failures.pop_front();
    }
    if failures.len() >= limit {
        let oldest = failures.front().copied().unwrap_or(now);
        Some((oldest + window - now).max(1))
    } else {
        None
    }
}

fn record<K: Hash + Eq>(map: &mut HashMap<K, VecDeque<i64>>, key: K, now: i64, window: i64) {
    if map.len() >= MAX_TRACKED {
        // Forget everyone whose failures are all out of the window; if that is
        // not enough, forget everyone (a flood of distinct keys is an attack
        // that the per-address budget is there to stop).
        map.retain(|_, failures| failures.back().is_some_and(|&t| t > now - window));
        if map.len() >= MAX_TRACKED {
            map.clear();
        }
    }
    let failures = map.entry(key).or_default();
    failures.push_back(now);
    // Keep no more than needed to know the limit was reached.
    if failures.len() > 1024 {
        failures.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_passes() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user: 3,
            per_address: 100,
            window: 60,
        });
        for t in 0..3 {
            assert_eq!(throttle.check("bob", None, t), None);
            throttle.failed("bob", None, t);
        }
        assert_eq!(throttle.check("bob", None, 10), Some(50));
        assert_eq!(throttle.check("alice", None, 10), None);
        assert_eq!(throttle.check("bob", None, 60), None); // the failure at 0 left the window
    }

    #[test]
    fn address_budget_spans_usernames() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user: 5,
            per_address: 3,
            window: 60,
        });
        let address: IpAddr = "127.0.0.1".parse().unwrap();
        for (t, name) in ["a", "b", "c"].iter().enumerate() {
            throttle.failed(name, Some(address), t as i64);
        }
        assert!(throttle.check("d", Some(address), 5).is_some());
        assert!(throttle
            .check("d", Some("127.0.0.2".parse().unwrap()), 5)
            .is_none());
    }

    #[test]
    fn success_clears_the_user() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user: 1,
            per_address: 100,
            window: 60,
        });
        throttle.failed("bob", None, 0);
        assert!(throttle.check("bob", None, 1).is_some());
        throttle.succeeded("bob");
        assert!(throttle.check("bob", None, 1).is_none());
    }
}
