//! Password hashing with Argon2id, at most a few hashes at a time.
//!
//! Each hash uses 19 MiB and tens of milliseconds of one core (OWASP's
//! parameters: m = 19456 KiB, t = 2, p = 1). A flood of logins must not run
//! hundreds at once, so a counting semaphore bounds them, and the memory used
//! stays at `permits × 19 MiB`. The queue behind it is bounded too: each
//! waiting login holds its connection's thread, and a client answered
//! quickly can go elsewhere. Past the queue, [`Busy`] says "retry shortly".

use std::prelude::rust_2021::*;

use std::sync::{Condvar, Mutex};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ITERATIONS: u32 = 2;
/// Argon2id lanes.
pub const PARALLELISM: u32 = 1;

/// Too many hashes running and waiting: try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// Hashes running and waiting.
#[derive(Debug, Default)]
struct Slots {
    running: usize,
    waiting: usize,
}

/// Argon2id with a bound on concurrent hashes and on the queue behind them.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    max_running: usize,
    max_waiting: usize,
    slots: Mutex<Slots>,
    freed: Condvar,
    /// A hash of a random password, verified against when a user does not
    /// exist, so that "no such user" takes as long as "wrong password".
    dummy: String,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher").finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// A hasher that runs at most `max_concurrent` hashes at once (at least
    /// 1), with at most three times as many waiting.
    pub fn new(max_concurrent: usize) -> Result<Self, String> {
        let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
            .map_err(|e| format!("argon2 parameters: {e}"))?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let mut random = [0u8; 32];
        getrandom::fill(&mut random).map_err(|e| format!("random source: {e}"))?;
        let dummy = argon2
            .hash_password(crate::base64url::encode(&random).as_bytes())
            .map_err(|e| format!("argon2: {e}"))?
            .to_string();
        let max_running = max_concurrent.max(1);
        Ok(PasswordHasher {
            argon2,
            max_running,
            max_waiting: 3 * max_running,
            slots: Mutex::new(Slots::default()),
            freed: Condvar::new(),
            dummy,
        })
    }

    /// Hashes `password` with a fresh random salt into a PHC string.
    pub fn hash(&self, password: &str) -> Result<Result<String, String>, Busy> {
        let _permit = self.acquire()?;
        Ok(self
            .argon2
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| format!("argon2: {e}")))
    }

    /// Checks `password` against a PHC string, or against the dummy hash when
    /// there is no user, so both cases cost one full hash.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, Busy> {
        let _permit = self.acquire()?;
        let matched = self
            .argon2
            .verify_password(password.as_bytes(), phc.unwrap_or(&self.dummy))
            .is_ok();
        Ok(matched && phc.is_some())
    }

    /// Hashes running and waiting now.
    pub fn load(&self) -> (usize, usize) {
        let slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        (slots.running, slots.waiting)
    }

    fn acquire(&self) -> Result<Permit<'_>, Busy> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        if slots.running >= self.max_running {
            if slots.waiting >= self.max_waiting {
                return Err(Busy);
            }
            slots.waiting += 1;
            while slots.running >= self.max_running {
                slots = self.freed.wait(slots).unwrap_or_else(|p| p.into_inner());
            }
            slots.waiting -= 1;
        }
        slots.running += 1;
        Ok(Permit(self))
    }
}

/// Gives its slot back when dropped, even if the hash panicked.
struct Permit<'a>(&'a PasswordHasher);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.0.slots.lock().unwrap_or_else(|p| p.into_inner()).running -= 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hasher = PasswordHasher::new(1).unwrap();
        let phc = hasher.hash("correct horse").unwrap().unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert_eq!(hasher.verify("correct horse", Some(&phc)), Ok(true));
        assert_eq!(hasher.verify("wrong horse", Some(&phc)), Ok(false));
        assert_eq!(hasher.verify("anything", None), Ok(false));
    }

    #[test]
    fn queue_is_bounded() {
        let hasher = PasswordHasher::new(1).unwrap();
        let running = hasher.acquire().unwrap();
        // Fill the queue with waiters on other threads, then one more is refused.
        std::thread::scope(|scope| {
            let waiters: Vec<_> = (0..3)
                .map(|_| scope.spawn(|| hasher.acquire().map(drop)))
                .collect();
            while hasher.slots.lock().unwrap().waiting < 3 {
                std::thread::yield_now();
            }
            assert_eq!(hasher.acquire().err(), Some(Busy));
            drop(running);
            for waiter in waiters {
                assert_eq!(waiter.join().unwrap(), Ok(()));
            }
        });
        assert!(hasher.acquire().is_ok());
    }
}
