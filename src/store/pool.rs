//! A small bounded pool of database connections, for either backend.
//!
//! The server serves each client on a thread of its own, so more threads
//! than the pool holds may want the database at once: past its size, they
//! wait for a connection to come back (until a deadline) rather than open
//! one more, since each connection costs memory here and, on PostgreSQL, a
//! server process there.

use std::prelude::rust_2021::*;

use std::sync::{Condvar, Mutex};
use std::time::Instant;

use super::StoreError;

/// Connections not in use, and how many are open in all.
pub(super) struct Pool<C> {
    state: Mutex<State<C>>,
    /// Signalled when a connection goes back to the pool or is closed.
    returned: Condvar,
    max: usize,
}

struct State<C> {
    idle: Vec<C>,
    open: usize,
}

/// A connection taken from the pool; dropping it gives it back when `keep`
/// was set, and otherwise closes it and frees its place, whatever happened
/// while it was out, a panic included (`keep` is set only after the work).
pub(super) struct Checkout<'p, C> {
    pool: &'p Pool<C>,
    conn: Option<C>,
    /// Whether the connection may be used again.
    pub(super) keep: bool,
}

impl<C> Pool<C> {
    /// A pool of at most `max` open connections.
    pub(super) fn new(max: usize) -> Self {
        Pool {
            state: Mutex::new(State {
                idle: Vec::new(),
                open: 0,
            }),
            returned: Condvar::new(),
            max,
        }
    }

    /// Takes an idle connection, or one made by `open` while fewer than
    /// `max` are open, or else the next one given back before `deadline`.
    pub(super) fn take(
        &self,
        deadline: Instant,
        open: impl FnOnce() -> Result<C, StoreError>,
    ) -> Result<Checkout<'_, C>, StoreError> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let idle = loop {
            if let Some(idle) = state.idle.pop() {
                break Some(idle);
            }
            if state.open < self.max {
                state.open += 1;
                break None;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(StoreError::Unavailable("the database is busy".into()));
            }
            state = match self.returned.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        };
        drop(state);
        // From here the checkout counts as open: if opening fails, dropping
        // it gives its place back.
        let mut checkout = Checkout {
            pool: self,
            conn: None,
            keep: false,
        };
        checkout.conn = Some(match idle {
            Some(conn) => conn,
            None => open()?,
        });
        Ok(checkout)
    }
}

impl<C> Pool<C> {
    /// Closes every idle connection: after one was found broken (the
    /// database restarted, say), the others opened before it likely are
    /// too, and each would fail one request before being dropped.
    #[cfg(feature = "postgres")]
    pub(super) fn close_idle(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let closed = std::mem::take(&mut state.idle);
        state.open -= closed.len();
        drop(state);
        self.returned.notify_all();
        // Closed outside the lock: closing may wait on the network.
        drop(closed);
    }
}

impl<C> Checkout<'_, C> {
    /// The connection.
    pub(super) fn conn(&mut self) -> Result<&mut C, StoreError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StoreError::Internal("no connection".into()))
    }
}

impl<C> Drop for Checkout<'_, C> {
    fn drop(&mut self) {
        let conn = self.conn.take().filter(|_| self.keep);
        let mut state = self.pool.state.lock().unwrap_or_else(|p| p.into_inner());
        match conn {
            Some(conn) => state.idle.push(conn),
            None => state.open -= 1,
        }
        drop(state);
        self.pool.returned.notify_one();
    }
}
