//! Several keys at once, told apart by `kid`: how keys rotate without
//! logging anyone out. Tokens signed with the new key carry its `kid`; tokens
//! signed before keep verifying with the old key until the operator retires
//! it.
//!
//! The `kid` only selects among keys the verifier was given: a token never
//! brings a key, and keys are never tried in turn (an unknown `kid` is
//! refused, not checked against every key, which would let any key of the
//! set vouch for any token and cost a HMAC per key).

use alloc::{string::String, vec::Vec};
use core::fmt;

use super::{Error, Hs256Key};

/// Verification keys by `kid`, and at most one for tokens without a `kid`
/// (the legacy key: tokens from before key rotation began).
///
/// ```
/// use minijwt::{decode_with_keys, encode, encode_with_header, Header, Hs256Key, KeySet, Validation};
/// let old = Hs256Key::new(&[1; 32]).unwrap();
/// let new = Hs256Key::new(&[2; 32]).unwrap();
/// let keys = KeySet::new().with_legacy(old.clone()).with("k2", new.clone());
/// let claims = serde_json::json!({"exp": 10});
/// let checks = Validation::default().at_time(0);
/// let before = encode(&old, &claims).unwrap();                        // no kid
/// let after = encode_with_header(&new, &Header::new().with_kid("k2"), &claims).unwrap();
/// assert!(decode_with_keys::<serde_json::Value>(&keys, &before, &checks).is_ok());
/// assert!(decode_with_keys::<serde_json::Value>(&keys, &after, &checks).is_ok());
/// let stranger = encode_with_header(&new, &Header::new().with_kid("k9"), &claims).unwrap();
/// assert_eq!(decode_with_keys::<serde_json::Value>(&keys, &stranger, &checks).unwrap_err(),
///            minijwt::Error::UnknownKeyId("k9".into()));
/// ```
#[derive(Clone, Default)]
pub struct KeySet {
    keys: Vec<(String, Hs256Key)>,
    legacy: Option<Hs256Key>,
}

impl KeySet {
    /// An empty set.
    pub fn new() -> Self {
        KeySet::default()
    }

    /// Adds the key for tokens whose header says `"kid": kid` (a second key
    /// with the same `kid` replaces the first).
    #[must_use]
    pub fn with(mut self, kid: impl Into<String>, key: Hs256Key) -> Self {
        let kid = kid.into();
        self.keys.retain(|(k, _)| *k != kid);
        self.keys.push((kid, key));
        self
    }

    /// Sets the key for tokens without a `kid`.
    #[must_use]
    pub fn with_legacy(mut self, key: Hs256Key) -> Self {
        self.legacy = Some(key);
        self
    }

    /// The key a token with this `kid` (or none) must have been signed with.
    ///
    /// ```
    /// let keys = minijwt::KeySet::new().with("a", minijwt::Hs256Key::new(&[1; 32]).unwrap());
    /// assert!(keys.select(Some("a")).is_ok());
    /// assert_eq!(keys.select(None).unwrap_err(), minijwt::Error::MissingKeyId);
    /// ```
    pub fn select(&self, kid: Option<&str>) -> Result<&Hs256Key, Error> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, _)| k == kid)
                .map(|(_, key)| key)
                .ok_or_else(|| Error::UnknownKeyId(super::error::echo(kid))),
            None => self.legacy.as_ref().ok_or(Error::MissingKeyId),
        }
    }

    /// The `kid`s in the set, in the order added.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|(kid, _)| kid.as_str())
    }

    /// Whether there is a key for tokens without a `kid`.
    pub fn has_legacy(&self) -> bool {
        self.legacy.is_some()
    }
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The kids, never the keys.
        f.debug_struct("KeySet")
            .field("kids", &self.kids().collect::<Vec<_>>())
            .field("legacy", &self.legacy.is_some())
            .finish()
    }
}
