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

use super::Periodic;
use crate::store::{Store, StoreError};

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

/// Recent failures by username and address, by username, and by address:
/// in this process, or, when other instances share the store, in the store
/// (see [`LoginThrottle::start`]).
#[derive(Debug)]
pub struct LoginThrottle {
    limits: ThrottleLimits,
    state: Mutex<State>,
    /// Whether failures are kept in the store rather than in `state`.
    stored: bool,
    /// When the store last dropped the failures older than the window.
    prune: Periodic,
}

/// An attempt [`LoginThrottle::start`] counted, for [`LoginThrottle::finish`].
#[derive(Debug)]
pub(crate) enum Counted {
    InProcess,
    /// The ids of its rows in the store.
    Stored(Vec<i64>),
}

/// How a counted attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The right password: the pair's failures are forgotten, and this
    /// attempt no longer counts.
    Succeeded,
    /// A wrong password: the attempt stays counted.
    Failed,
    /// No answer (the hasher was busy, the store failed): it counts for none.
    Abandoned,
}

/// How often, at most, the store drops every failure older than the window
/// (an attempt drops its own keys' old failures itself).
const PRUNE_EVERY: i64 = 60;

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
            stored: false,
            prune: Periodic::new(PRUNE_EVERY),
        }
    }

    /// The same throttle, keeping its failures in the store when `stored`:
    /// for a store other instances share, so that every instance counts the
    /// failures of all.
    pub(crate) fn kept_in_store(self, stored: bool) -> Self {
        LoginThrottle { stored, ..self }
    }

    /// Starts a login attempt at `now`, as [`begin`](Self::begin) does, in
    /// this process or in the store: `Ok(Err(seconds to wait))` when
    /// refused. In the store, one transaction per attempt, locked per key on
    /// every instance, drops the keys' old failures, reads the others, asks
    /// the same [`judge`] and counts the attempt, so that concurrent
    /// attempts on any number of instances cannot all pass the check.
    pub(crate) fn start(
        &self,
        store: &Store,
        user_key: Option<&str>,
        address: Option<IpAddr>,
        now: i64,
    ) -> Result<Result<Counted, i64>, StoreError> {
        if !self.stored {
            return Ok(self.begin(user_key, address, now).map(|()| Counted::InProcess));
        }
        let since = now - self.limits.window;
        if self.prune.due(now) {
            // Best effort: what is not pruned now is next time.
            let _ = store.prune_login_failures(since);
        }
        let keys = StoredKeys::new(user_key, address);
        let limits = self.limits;
        let judge_stored = |failures: &[Vec<i64>]| {
            let [pair, user, address] = keys.positions.map(|at| at.map_or(&[][..], |i| &failures[i][..]));
            judge(&limits, now, pair, user, address)
        };
        let keep = limits
            .per_user_address
            .max(limits.per_user)
            .max(limits.per_address);
        Ok(store
            .count_login_attempt(&keys.names, now, since, keep, &judge_stored)?
            .map(Counted::Stored))
    }

    /// Ends an attempt [`start`](Self::start) counted. In the store, best
    /// effort: if forgetting fails, the attempt stays counted as a failure,
    /// which errs on the side of caution.
    pub(crate) fn finish(
        &self,
        store: &Store,
        counted: Counted,
        user_key: Option<&str>,
        address: Option<IpAddr>,
        outcome: Outcome,
    ) {
        match (counted, outcome) {
            (_, Outcome::Failed) => {}
            (Counted::InProcess, Outcome::Succeeded) => self.succeeded(user_key, address),
            (Counted::InProcess, Outcome::Abandoned) => self.abandoned(user_key, address),
            (Counted::Stored(ids), Outcome::Succeeded) => {
                let keys = StoredKeys::new(user_key, address);
                let _ = store.forget_login_failures(keys.pair(), &ids);
            }
            (Counted::Stored(ids), Outcome::Abandoned) => {
                let _ = store.forget_login_failures(None, &ids);
            }
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
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let state = &mut *guard;
        let limits = self.limits;
        let address = address.map(address_key);
        let pair = user_key.map(|u| (u.to_owned(), address));
        let since = now - limits.window;
        let pair_failures = recent(pair.as_ref().and_then(|p| state.pairs.get_mut(p)), since);
        let user_failures = recent(user_key.and_then(|u| state.users.get_mut(u)), since);
        let address_failures = recent(address.and_then(|a| state.addresses.get_mut(&a)), since);
        if let Some(wait) = judge(&limits, now, pair_failures, user_failures, address_failures) {
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

/// An attempt's keys as the store keeps them: `pair NAME ADDRESS`,
/// `user NAME`, `addr ADDRESS` (names are ASCII without spaces; `-` for no
/// address), and where each of the pair, user and address is in `names`.
struct StoredKeys {
    names: Vec<String>,
    positions: [Option<usize>; 3],
}

impl StoredKeys {
    fn new(user_key: Option<&str>, address: Option<IpAddr>) -> Self {
        let address = address.map(address_key);
        let shown = address.map_or_else(|| "-".to_owned(), |a| a.to_string());
        let wanted = [
            user_key.map(|u| format!("pair {u} {shown}")),
            user_key.map(|u| format!("user {u}")),
            address.map(|_| format!("addr {shown}")),
        ];
        let mut names = Vec::new();
        let positions = wanted.map(|key| {
            key.map(|key| {
                names.push(key);
                names.len() - 1
            })
        });
        StoredKeys { names, positions }
    }

    /// The pair's key, if there is one.
    fn pair(&self) -> Option<&str> {
        self.positions[0].map(|i| self.names[i].as_str())
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

/// The failures after `since`, oldest first (older ones are dropped).
fn recent(failures: Option<&mut VecDeque<i64>>, since: i64) -> &[i64] {
    let Some(failures) = failures else {
        return &[];
    };
    while failures.front().is_some_and(|&t| t <= since) {
        failures.pop_front();
    }
    failures.make_contiguous()
}

/// The throttle's rule, wherever the failures are kept: given the failures
/// within the window (oldest first) of the (username, address) pair, the
/// username and the address, the seconds to wait, or `None` to go ahead.
fn judge(limits: &ThrottleLimits, now: i64, pair: &[i64], user: &[i64], address: &[i64]) -> Option<i64> {
    // Blocked until the limit-th most recent failure leaves the window.
    let over = |failures: &[i64], limit: usize| {
        let count = failures.len();
        (count > 0 && count >= limit).then(|| {
            let oldest_that_counts = failures[count - limit.clamp(1, count)];
            (oldest_that_counts + limits.window - now).max(1)
        })
    };
    let pair_wait = over(pair, limits.per_user_address);
    // The soft per-name limit binds only an address that has failed for
    // this name at least twice within the window: one mistyped password,
    // or a double click, does not put the real user among the guessers.
    let user_wait = match pair.len() >= SOFT_LIMIT_AFTER {
        true => over(user, limits.per_user),
        false => None,
    };
    pair_wait.max(user_wait).max(over(address, limits.per_address))
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
