//! The HS256 key: an HMAC-SHA256 state keyed once, used for signing and verifying.
//!
//! HMAC first turns the secret into two padded blocks (`key ^ ipad`,
//! `key ^ opad`) and hashes each: that is a third of the work for a short
//! message. `Hs256Key` does it once, in [`Hs256Key::new`], and every signature
//! starts from a clone of the keyed state.
//!
//! The algorithm is bound to the key type: an `Hs256Key` can only make or check
//! HMAC-SHA256 tags, so no header can talk it into anything else.

use core::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::base64url;
use super::error::Error;

type HmacSha256 = Hmac<Sha256>;

/// Length of an HMAC-SHA256 tag, and so of every HS256 signature, in bytes.
///
/// ```
/// assert_eq!(minijwt::SIGNATURE_LEN, 32);
/// ```
pub const SIGNATURE_LEN: usize = 32;

/// A secret key for HS256, at least 32 bytes long, already keyed into HMAC-SHA256.
///
/// Its `Debug` output never shows the secret.
///
/// ```
/// use minijwt::Hs256Key;
///
/// let key = Hs256Key::new(b"an example secret of 32+ bytes!!").unwrap();
/// assert_eq!(format!("{key:?}"), "Hs256Key(<redacted>)");
/// assert!(Hs256Key::new(b"too short").is_err());
/// ```
#[derive(Clone)]
pub struct Hs256Key {
    mac: HmacSha256,
}

impl Hs256Key {
    /// The shortest secret accepted: the size of a SHA-256 output (RFC 7518 §3.2).
    ///
    /// ```
    /// assert_eq!(minijwt::Hs256Key::MIN_LEN, 32);
    /// ```
    pub const MIN_LEN: usize = 32;

    /// Keys HMAC-SHA256 with `secret`, which must be at least [`MIN_LEN`](Self::MIN_LEN) bytes.
    ///
    /// A shorter secret gives [`Error::KeyTooShort`]: an HMAC key weaker than
    /// the hash it keys lets an attacker who holds one token guess the secret
    /// offline.
    ///
    /// ```
    /// use minijwt::{Error, Hs256Key};
    ///
    /// assert!(Hs256Key::new(&[0u8; 32]).is_ok());
    /// assert_eq!(Hs256Key::new(&[0u8; 31]).unwrap_err(), Error::KeyTooShort { len: 31 });
    /// ```
    pub fn new(secret: &[u8]) -> Result<Self, Error> {
        if secret.len() < Self::MIN_LEN {
            return Err(Error::KeyTooShort { len: secret.len() });
        }
        let mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts keys of any length");
        Ok(Hs256Key { mac })
    }

    /// Reads a key written as base64url text (a key file or `MINIJWT_SECRET`).
    ///
    /// Surrounding whitespace, such as a key file's final newline, is ignored;
    /// padding is tolerated since many tools write it. The decoded bytes are the
    /// secret and must number at least 32.
    ///
    /// ```
    /// use minijwt::Hs256Key;
    ///
    /// let text = "bWluaWp3dC10ZXN0LWtleS0wMTIzNDU2Nzg5YWJjZGVm\n";
    /// assert!(Hs256Key::from_base64url(text).is_ok());
    /// assert!(Hs256Key::from_base64url("c2hvcnQ").is_err()); // "short"
    /// ```
    pub fn from_base64url(text: &str) -> Result<Self, Error> {
        let text = text.trim().trim_end_matches('=');
        let secret = base64url::decode(text).map_err(Error::KeyEncoding)?;
        Self::new(&secret)
    }

    /// Computes the HMAC-SHA256 tag of `message`.
    ///
    /// For a JWT, `message` is the signing input `header.payload` as ASCII bytes.
    ///
    /// ```
    /// use minijwt::Hs256Key;
    ///
    /// let key = Hs256Key::new(&[0x0b; 32]).unwrap();
    /// let tag = key.sign(b"eyJhbGciOiJIUzI1NiJ9.e30");
    /// assert_eq!(tag.len(), 32);
    /// assert!(key.verify(b"eyJhbGciOiJIUzI1NiJ9.e30", &tag));
    /// ```
    pub fn sign(&self, message: &[u8]) -> [u8; SIGNATURE_LEN] {
        let mac = self.mac.clone().chain_update(message);
        mac.finalize().into_bytes().into()
    }

    /// Checks `tag` against the HMAC-SHA256 of `message` in constant time.
    ///
    /// Anything but exactly 32 bytes is refused: comparing only a prefix would
    /// let a one-byte tag be guessed in 256 tries.
    ///
    /// ```
    /// use minijwt::Hs256Key;
    ///
    /// let key = Hs256Key::new(&[0x0b; 32]).unwrap();
    /// let tag = key.sign(b"message");
    /// assert!(key.verify(b"message", &tag));
    /// assert!(!key.verify(b"message", &tag[..16])); // truncated
    /// assert!(!key.verify(b"massage", &tag));
    /// ```
    pub fn verify(&self, message: &[u8], tag: &[u8]) -> bool {
        if tag.len() != SIGNATURE_LEN {
            return false;
        }
        // `verify_slice` compares in constant time (the `subtle` crate).
        self.mac.clone().chain_update(message).verify_slice(tag).is_ok()
    }
}

impl fmt::Debug for Hs256Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hs256Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    /// RFC 4231 test case 2 uses a short key; case 6 a 131-byte key. We check
    /// the long one through our type (RFC 4231 §4.7, HMAC-SHA-256).
    #[test]
    fn rfc4231_case_6_long_key() {
        let key = Hs256Key::new(&[0xaa; 131]).unwrap();
        let tag = key.sign(b"Test Using Larger Than Block-Size Key - Hash Key First");
        let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"
        );
    }

    #[test]
    fn signing_twice_gives_the_same_tag() {
        let key = Hs256Key::new(&[1; 32]).unwrap();
        assert_eq!(key.sign(b"a"), key.sign(b"a"));
        assert_ne!(key.sign(b"a"), key.sign(b"b"));
    }

    #[test]
    fn verify_requires_exactly_32_bytes() {
        let key = Hs256Key::new(&[1; 32]).unwrap();
        let mut long = key.sign(b"m").to_vec();
        long.push(0);
        assert!(!key.verify(b"m", &long));
        assert!(!key.verify(b"m", &[]));
    }
}
