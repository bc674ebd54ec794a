//! Password hashing with Argon2id, at most a few hashes at a time.
//!
//! Each hash uses 19 MiB and tens of milliseconds of one core (OWASP's
//! parameters: m = 19456 KiB, t = 2, p = 1). A flood of logins must not run
//! hundreds at once, so a counting semaphore bounds them; the rest wait their
//! turn, and the memory used stays at `permits × 19 MiB`.

use std::sync::{Condvar, Mutex};

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};

/// Argon2id memory cost in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Argon2id passes.
pub const ITERATIONS: u32 = 2;
/// Argon2id lanes.
pub const PARALLELISM: u32 = 1;

/// Argon2id with a bound on concurrent hashes.
pub struct PasswordHasher {
    argon2: Argon2<'static>,
    permits: Mutex<usize>,
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
    /// A hasher that runs at most `max_concurrent` hashes at once (at least 1).
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
        Ok(PasswordHasher {
            argon2,
            permits: Mutex::new(max_concurrent.max(1)),
            freed: Condvar::new(),
            dummy,
        })
    }

    /// Hashes `password` with a fresh random salt into a PHC string.
    pub fn hash(&self, password: &str) -> Result<String, String> {
        let _permit = self.acquire();
        self.argon2
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| format!("argon2: {e}"))
    }

    /// Checks `password` against a PHC string, or against the dummy hash when
    /// there is no user, so both cases cost one full hash.
    pub fn verify(&self, password: &str, phc: Option<&str>) -> bool {
        let _permit = self.acquire();
        let matched = self
            .argon2
            .verify_password(password.as_bytes(), phc.unwrap_or(&self.dummy))
            .is_ok();
        matched && phc.is_some()
    }

    fn acquire(&self) -> Permit<'_> {
        let mut permits = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        while *permits == 0 {
            permits = self.freed.wait(permits).unwrap_or_else(|p| p.into_inner());
        }
        *permits -= 1;
        Permit(self)
    }
}

/// Gives its slot back when dropped, even if the hash panicked.
struct Permit<'a>(&'a PasswordHasher);

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        *self.0.permits.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        self.0.freed.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_then_verify() {
        let hasher = PasswordHasher::new(1).unwrap();
        let phc = hasher.hash("correct horse").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(hasher.verify("correct horse", Some(&phc)));
        assert!(!hasher.verify("wrong horse", Some(&phc)));
        assert!(!hasher.verify("anything", None));
    }
}
