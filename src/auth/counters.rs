//! What the domain counts for operators: outcomes of logins and refreshes.
//!
//! Plain atomics, bumped where [`Auth`](super::Auth) decides an outcome and
//! read whole by [`Auth::counts`](super::Auth::counts). The domain knows no
//! exposition format and no HTTP: the HTTP layer reads [`AuthCounts`] and
//! writes it out (see `http::metrics`).

use std::sync::atomic::{AtomicU64, Ordering};

/// The counters, each only ever increased.
#[derive(Debug, Default)]
pub(super) struct Counters {
    pub(super) logins_ok: AtomicU64,
    pub(super) logins_failed: AtomicU64,
    pub(super) logins_throttled: AtomicU64,
    pub(super) refreshes_ok: AtomicU64,
    pub(super) refreshes_grace: AtomicU64,
    pub(super) refreshes_reuse: AtomicU64,
}

impl Counters {
    pub(super) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// A reading of the auth service's counters and gauges, since it started.
///
/// ```
/// # use std::sync::Arc;
/// # use minijwt::auth::{Auth, AuthConfig, ManualClock};
/// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(),
/// #     minijwt::Hs256Key::new(&[7; 32]).unwrap(), AuthConfig::default(), Arc::new(ManualClock::new(1_800_000_000))).unwrap();
/// auth.register("alice", "correct horse").unwrap();
/// auth.login("alice", "correct horse", None).unwrap();
/// assert!(auth.login("alice", "wrong horse", None).is_err());
/// let counts = auth.counts();
/// assert_eq!((counts.logins_ok, counts.logins_failed), (1, 1));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthCounts {
    /// Logins that issued tokens.
    pub logins_ok: u64,
    /// Logins refused for a wrong username or password.
    pub logins_failed: u64,
    /// Logins refused by the failed-login throttle (429) before any hash.
    pub logins_throttled: u64,
    /// Refresh tokens rotated.
    pub refreshes_ok: u64,
    /// Retries within the grace window, answered with the same successor.
    pub refreshes_grace: u64,
    /// Rotated tokens presented again: their family revoked.
    pub refreshes_reuse: u64,
    /// Logins (and password checks) waiting for an Argon2 slot now.
    pub login_queue: u64,
    /// Argon2 hashes running now.
    pub hashes_running: u64,
    /// Store operations that failed other than by a conflict.
    pub store_errors: u64,
}

impl Counters {
    pub(super) fn read(&self) -> AuthCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        AuthCounts {
            logins_ok: get(&self.logins_ok),
            logins_failed: get(&self.logins_failed),
            logins_throttled: get(&self.logins_throttled),
            refreshes_ok: get(&self.refreshes_ok),
            refreshes_grace: get(&self.refreshes_grace),
            refreshes_reuse: get(&self.refreshes_reuse),
            ..AuthCounts::default()
        }
    }
}
