//! # minijwt
//!
//! A small, strict HS256 JSON Web Token library, written to be read.
//!
//! A JWT is three base64url segments: a header that names the algorithm, a
//! payload of claims, and a signature, here HMAC-SHA256 over the first two.
//! minijwt makes and checks exactly that one kind of token, and refuses every
//! malformed, forged or confused one with an [`Error`] that says what failed.
//!
//! ```
//! use minijwt::{decode, encode, Hs256Key, Validation};
//! use serde::{Deserialize, Serialize};
//!
//! #[derive(Serialize, Deserialize, Debug, PartialEq)]
//! struct Claims {
//!     sub: String,
//!     exp: i64,
//! }
//!
//! // In real use: 32 random bytes, e.g. from `minijwt keygen`.
//! let key = Hs256Key::new(b"0123456789abcdef0123456789abcdef")?;
//! let claims = Claims { sub: "alice".into(), exp: 4_102_444_800 };
//!
//! let token = encode(&key, &claims)?;
//! let back: Claims = decode(&key, &token, &Validation::default())?;
//! assert_eq!(back, claims);
//!
//! // One changed character and the token is refused.
//! let mut forged = token.clone();
//! forged.replace_range(40..41, if &token[40..41] == "A" { "B" } else { "A" });
//! assert!(decode::<Claims>(&key, &forged, &Validation::default()).is_err());
//! # Ok::<(), minijwt::Error>(())
//! ```
//!
//! The core lives in [`jwt`] (re-exported here) and does no I/O; see its
//! documentation for a reading order.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod jwt;
pub mod time;

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod store;

pub use jwt::{
    base64url, dangerous, decode, decode_with_keys, encode, encode_with_header, Error, Header, Hs256Key,
    KeySet, Segment, TimeClaim, Validation, DEFAULT_MAX_TOKEN_LEN, MAX_NUMERIC_DATE, SIGNATURE_LEN,
};
