//! Failed-login throttling that a guesser cannot turn into a lock-out.
//!
//! Three counts of failures within a window:
//! - per (username, client address), the hard limit: after
//!   `per_user_address` failures that address gets "try again later" for that
//!   name, right password or not;
//! - per username across addresses, a softer control for guessers spread
//!   over many addresses: past `per_user` failures, only addresses that have
//!   themselves failed for that name twice (within the window) are refused,
//!   so the right password from an address that has not been failing always
//!   gets through: nobody can keep the real user out;
//! - per client address across usernames (`per_address`), so one client
//!   cannot sweep many names below the other limits.

use std::prelude::rust_2021::*;

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;

/// Own failures for a name after which an address meets the name's soft limit.
const SOFT_LIMIT_AFTER: usize = 2;

/// How many distinct usernames or addresses are tracked before the oldest
/// entries are dropped, so an attacker cannot grow this without bound.
const MAX_TRACKED: usize = 100_000;

/// The limits of failed logins.
///
/// ```
/// let limits = minijwt::auth::ThrottleLimits::default();
/// assert_eq!((limits.per_user_address, limits.per_user, limits.per_address), (5, 20, 100));
/// assert_eq!(limits.window, 900);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// Failures allowed per (username, client address) within the window.
    pub per_user_address: usize,
    /// Failures per username across addresses past which addresses that
    /// have failed for it are refused (those that have not still get in).
    pub per_user: usize,
    /// Failures allowed per client address within the window.
    pub per_address: usize,
    /// Window length in seconds.
    pub window: i64,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_user_address: 5,
            per_user: 20,
            per_address: 100,
            window: 15 * 60,
        }
    }
}

/// Recent failures by username and address, by username, and by address.
#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    pairs: HashMap<(String, Option<IpAddr>), VecDeque<i64>>,
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

    /// Starts a login attempt at `now`: `Err(seconds to wait)` if the
    /// (username, address) pair or the address is over its limit, or the
    /// username is over its soft limit and this address has failed for it;
    /// otherwise the attempt is counted as a failure until
    /// [`succeeded`](Self::succeeded) or [`abandoned`](Self::abandoned) says
    /// otherwise. Counting first means concurrent attempts cannot all pass
    /// the check before any is recorded.
    pub fn begin(&self, user_key: Option<&str>, address: Option<IpAddr>, now: i64) -> Result<(), i64> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let limits = self.limits;
        let address = address.map(address_key);
        let pair = user_key.map(|u| (u.to_owned(), address));
        let pair_failures = pair.as_ref().and_then(|p| state.pairs.get_mut(p));
        let pair_wait = blocked(pair_failures, limits.per_user_address, now, limits.window);
        // The soft per-name limit binds only an address that has failed for
        // this name at least twice within the window (`blocked` above dropped
        // older failures): one mistyped password, or a double click, does
        // not put the real user among the guessers.
        let has_failed = pair
            .as_ref()
            .and_then(|p| state.pairs.get(p))
            .is_some_and(|f| f.len() >= SOFT_LIMIT_AFTER);
        let user_wait = match (user_key, has_failed) {
            (Some(user), true) => blocked(state.users.get_mut(user), limits.per_user, now, limits.window),
            _ => None,
        };
        let address_wait = address.and_then(|a| {
            blocked(
                state.addresses.get_mut(&a),
                limits.per_address,
                now,
                limits.window,
            )
        });
        if let Some(wait) = pair_wait.max(user_wait).max(address_wait) {
            return Err(wait);
        }
        if let Some(pair) = pair {
            record(
                &mut state.pairs,
                pair,
                now,
                limits.window,
                limits.per_user_address,
            );
        }
        if let Some(user_key) = user_key {
            record(
                &mut state.users,
                user_key.to_owned(),
                now,
                limits.window,
                limits.per_user,
            );
        }
        if let Some(address) = address {
            record(
                &mut state.addresses,
                address,
                now,
                limits.window,
                limits.per_address,
            );
        }
        Ok(())
    }

    /// The attempt succeeded: the pair's failures are forgotten, and the
    /// username's and the address's counts lose this attempt.
    pub fn succeeded(&self, user_key: Option<&str>, address: Option<IpAddr>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let address = address.map(address_key);
        if let Some(user_key) = user_key {
            state.pairs.remove(&(user_key.to_owned(), address));
        }
        uncount(&mut state.users, user_key.map(str::to_owned));
        uncount(&mut state.addresses, address);
    }

    /// The attempt ended without an answer (the hasher was busy, the store
    /// failed): it counts for none.
    pub fn abandoned(&self, user_key: Option<&str>, address: Option<IpAddr>) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let address = address.map(address_key);
        uncount(&mut state.pairs, user_key.map(|u| (u.to_owned(), address)));
        uncount(&mut state.users, user_key.map(str::to_owned));
        uncount(&mut state.addresses, address);
    }
}

/// IPv6 clients usually hold a whole /64: count them per /64, not per address.
fn address_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !0xFFFF_FFFF_FFFF_FFFF).into()),
        },
        v4 => v4,
    }
}

/// Removes the most recent attempt of `key`.
fn uncount<K: Hash + Eq>(map: &mut HashMap<K, VecDeque<i64>>, key: Option<K>) {
    if let Some(failures) = key.and_then(|k| map.get_mut(&k)) {
        failures.pop_back();
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

fn record<K: Hash + Eq>(map: &mut HashMap<K, VecDeque<i64>>, key: K, now: i64, window: i64, limit: usize) {
    if map.len() >= MAX_TRACKED && !map.contains_key(&key) {
        // Forget keys whose failures have all left the window. If the map is
        // still full, the new key goes untracked: clearing the map instead
        // would let a flood of names wipe the count of the one under attack.
        map.retain(|_, failures| failures.back().is_some_and(|&t| t > now - window));
        if map.len() >= MAX_TRACKED {
            return;
        }
    }
    let failures = map.entry(key).or_default();
    failures.push_back(now);
    // Reaching the limit is all that matters: keep no more than `limit`.
    while failures.len() > limit.max(1) {
        failures.pop_front();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_limit_until_window_passes() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user_address: 3,
            per_user: 100,
            per_address: 100,
            window: 60,
        });
        for t in 0..3 {
            assert_eq!(throttle.begin(Some("bob"), None, t), Ok(()));
        }
        assert_eq!(throttle.begin(Some("bob"), None, 10), Err(50));
        assert_eq!(throttle.begin(Some("alice"), None, 10), Ok(()));
        assert_eq!(throttle.begin(Some("bob"), None, 60), Ok(())); // the attempt at 0 left the window
    }

    #[test]
    fn attempts_in_flight_count_before_they_finish() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user_address: 2,
            per_user: 100,
            per_address: 100,
            window: 60,
        });
        // Two attempts started, neither finished: a third is refused.
        assert!(throttle.begin(Some("bob"), None, 0).is_ok());
        assert!(throttle.begin(Some("bob"), None, 0).is_ok());
        assert!(throttle.begin(Some("bob"), None, 0).is_err());
        // One is abandoned (no answer): room for one more.
        throttle.abandoned(Some("bob"), None);
        assert!(throttle.begin(Some("bob"), None, 0).is_ok());
    }

    #[test]
    fn address_budget_spans_usernames_and_ipv6_counts_per_64() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user_address: 5,
            per_user: 100,
            per_address: 3,
            window: 60,
        });
        let address: IpAddr = "2001:db8::1".parse().unwrap();
        for (t, name) in ["a", "b", "c"].iter().enumerate() {
            assert!(throttle.begin(Some(name), Some(address), t as i64).is_ok());
        }
        let same_64: IpAddr = "2001:db8::ffff:1".parse().unwrap();
        assert!(throttle.begin(Some("d"), Some(same_64), 5).is_err());
        let other_64: IpAddr = "2001:db8:0:1::1".parse().unwrap();
        assert!(throttle.begin(Some("d"), Some(other_64), 5).is_ok());
        // Malformed names count against the address only.
        let v4: IpAddr = "192.0.2.1".parse().unwrap();
        for t in 0..3 {
            assert!(throttle.begin(None, Some(v4), t).is_ok());
        }
        assert!(throttle.begin(None, Some(v4), 3).is_err());
    }

    #[test]
    fn success_clears_the_user() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user_address: 1,
            per_user: 100,
            per_address: 100,
            window: 60,
        });
        assert!(throttle.begin(Some("bob"), None, 0).is_ok());
        assert!(throttle.begin(Some("bob"), None, 1).is_err());
        throttle.succeeded(Some("bob"), None);
        assert!(throttle.begin(Some("bob"), None, 1).is_ok());
    }

    #[test]
    fn a_high_limit_is_still_enforced() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user_address: 5,
            per_user: 100,
            per_address: 2000,
            window: 600,
        });
        let address: IpAddr = "192.0.2.7".parse().unwrap();
        for t in 0..2000 {
            assert!(throttle.begin(None, Some(address), t / 10).is_ok());
        }
        assert!(throttle.begin(None, Some(address), 200).is_err());
    }

    #[test]
    fn a_guesser_cannot_lock_out_the_user_from_another_address() {
        let throttle = LoginThrottle::new(ThrottleLimits::default());
        let guesser: IpAddr = "198.51.100.7".parse().unwrap();
        let user: IpAddr = "203.0.113.9".parse().unwrap();
        for t in 0..5 {
            assert!(throttle.begin(Some("bob"), Some(guesser), t).is_ok());
        }
        assert!(throttle.begin(Some("bob"), Some(guesser), 5).is_err());
        // Bob, elsewhere, is not held up by the guesser's failures.
        assert!(throttle.begin(Some("bob"), Some(user), 6).is_ok());
        throttle.succeeded(Some("bob"), Some(user));
    }

    #[test]
    fn many_addresses_meet_the_soft_limit_but_a_clean_one_gets_in() {
        let throttle = LoginThrottle::new(ThrottleLimits {
            per_user_address: 5,
            per_user: 3,
            per_address: 100,
            window: 60,
        });
        let address = |i: u8| -> IpAddr { [192, 0, 2, i].into() };
        // Three addresses fail twice each: the name is over its soft limit.
        for i in 1..=3 {
            assert!(throttle.begin(Some("bob"), Some(address(i)), 0).is_ok());
            assert!(throttle.begin(Some("bob"), Some(address(i)), 0).is_ok());
        }
        // Those that failed are refused now, far below their own limit...
        assert!(throttle.begin(Some("bob"), Some(address(1)), 1).is_err());
        // ...but one that mistyped once is not taken for a guesser.
        assert!(throttle.begin(Some("bob"), Some(address(8)), 1).is_ok());
        assert!(throttle.begin(Some("bob"), Some(address(8)), 1).is_ok());
        // ...while an address that has not failed for bob still gets a try,
        // and one more if it succeeded.
        assert!(throttle.begin(Some("bob"), Some(address(9)), 1).is_ok());
        throttle.succeeded(Some("bob"), Some(address(9)));
        assert!(throttle.begin(Some("bob"), Some(address(9)), 2).is_ok());
        // Once the window has passed, everyone starts afresh.
        assert!(throttle.begin(Some("bob"), Some(address(1)), 61).is_ok());
    }
}
