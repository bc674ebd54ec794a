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
//!
//! # Without `std`
//!
//! The core is `#![no_std]` and needs only `alloc`. Its one use of the
//! standard library, the system clock, comes with the `std` feature, which is
//! on by default (and the `cli` and `server` features imply it). For the core
//! alone, on a target with no operating system or just to compile no SQLite,
//! Argon2 or HTTP server:
//!
//! ```toml
//! [dependencies]
//! minijwt = { version = "0.1", default-features = false }
//! ```
//!
//! Without `std` a [`Validation`] has no clock of its own: give it the time
//! with [`Validation::at_time`] or a clock function with
//! [`Validation::with_clock`]. Without either, [`decode`] refuses every token
//! with [`Error::NoClock`]; it never checks against a made-up time.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

extern crate alloc;
// With `std`: the system clock, and the server's modules (which import std's
// prelude). In tests: the test harness. Its macros (`format!`, `vec!`,
// `println!`) need no import; `cargo check --lib --no-default-features` keeps
// the core from leaning on that.
#[cfg(any(feature = "std", test))]
#[macro_use]
extern crate std;

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
