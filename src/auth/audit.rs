//! The audit trail: security events (logins, refreshes, reuse, revocations,
//! password changes, deletions) with time, user, address and session, kept
//! for a number of days. Never a password or a token.
//!
//! Recording is best effort: a trail that cannot be written (a full disk)
//! does not refuse a login. What a client can make it write is bounded by
//! what each event costs it: a login that reaches the password hash is
//! limited by the hasher and the throttle; the events a client could repeat
//! for free (a throttled login, a grace retry, a logout with an old token)
//! are kept at most once a minute per address, session or user.
//!
//! The events of the hot paths, a login and a refresh, are written by the
//! store in the same transaction as the change they record (the session, the
//! rotation): one write per request, and no event without its change. The
//! auth service decides the event; the store only writes the row.

use std::prelude::rust_2021::*;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::AuditEvent;
use super::Periodic;
use crate::store::Store;

/// How often old events are pruned, in seconds.
const PRUNE_EVERY: i64 = 3600;

/// Events a client can repeat for free are kept at most once this often per key.
const REPEATS_EVERY: i64 = 60;

/// Keys remembered for [`REPEATS_EVERY`] before the memory starts over.
const MAX_REMEMBERED: usize = 10_000;

/// What an event is about; every part optional.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Subject<'a> {
    pub user_id: Option<i64>,
    pub username: Option<&'a str>,
    pub address: Option<IpAddr>,
    pub session: Option<&'a str>,
}

/// Writes events into the store and keeps them `retention_days` days.
#[derive(Debug)]
pub(crate) struct Trail {
    retention: i64,
    prune: Periodic,
    /// When each (event, key) was last kept.
    recent: Mutex<HashMap<(&'static str, String), i64>>,
}

impl Trail {
    pub(crate) fn new(retention_days: i64) -> Self {
        Trail {
            retention: retention_days.saturating_mul(86_400),
            prune: Periodic::new(PRUNE_EVERY),
            recent: Mutex::default(),
        }
    }

    /// The row that records `event` at `now`, for a store operation to write
    /// in the same transaction as the change it records; after that
    /// operation, [`Trail::recorded`].
    pub(crate) fn event(&self, now: i64, event: &'static str, subject: Subject<'_>) -> AuditEvent {
        AuditEvent {
            at: now,
            event: event.to_owned(),
            user_id: subject.user_id,
            username: subject.username.map(str::to_owned),
            address: subject.address.map(|a| a.to_string()),
            session: subject.session.map(str::to_owned),
        }
    }

    /// Records `event` at `now`, in a write of its own, and once an hour
    /// drops what is older than the retention.
    pub(crate) fn record(&self, store: &Store, now: i64, event: &'static str, subject: Subject<'_>) {
        let _ = store.record(&self.event(now, event, subject));
        self.recorded(store, now);
    }

    /// To be called once an event of `now` has been written (or tried):
    /// once an hour, drops what is older than the retention.
    pub(crate) fn recorded(&self, store: &Store, now: i64) {
        if self.prune.due(now) {
            let _ = store.prune_audit(now.saturating_sub(self.retention));
        }
    }

    /// Whether to keep an event a client can repeat at no cost: at most once
    /// a minute per `key` (its address, session or user). A yes counts as
    /// kept.
    pub(crate) fn keeps_repeat(&self, now: i64, event: &'static str, key: String) -> bool {
        let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let key = (event, key);
        if recent.get(&key).is_some_and(|&at| now - at < REPEATS_EVERY) {
            return false;
        }
        if recent.len() >= MAX_REMEMBERED {
            recent.clear();
        }
        recent.insert(key, now);
        true
    }

    /// Records an event a client can repeat at no cost, at most once a
    /// minute per `key` (its address, session or user).
    pub(crate) fn record_sparingly(
        &self,
        store: &Store,
        now: i64,
        event: &'static str,
        key: String,
        subject: Subject<'_>,
    ) {
        if self.keeps_repeat(now, event, key) {
            self.record(store, now, event, subject);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throttled_attempts_are_kept_once_a_minute_and_old_events_pruned() {
        let store = Store::open_in_memory().unwrap();
        let trail = Trail::new(1);
        let subject = Subject {
            username: Some("bob"),
            address: Some("192.0.2.1".parse().unwrap()),
            ..Subject::default()
        };
        for t in 0..100 {
            trail.record_sparingly(&store, 1_000 + t, "login_throttled", "192.0.2.1".into(), subject);
        }
        trail.record_sparingly(&store, 1_060, "login_throttled", "192.0.2.1".into(), subject);
        let kept = store.audit_trail(Some("bob"), 0).unwrap();
        assert_eq!(kept.iter().map(|e| e.at).collect::<Vec<_>>(), vec![1_000, 1_060]);
        // A day and an hour later, the next event prunes the old ones.
        trail.record(&store, 1_000 + 86_400 + 3_600, "login_ok", subject);
        let kept = store.audit_trail(None, 0).unwrap();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert_eq!(kept[0].event, "login_ok");
    }
}
