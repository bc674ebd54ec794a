//! The JWT core: HS256 compact tokens, bytes in and claims or a precise error out.
//!
//! Read it in this order:
//!
//! 1. [`base64url`]: how each segment is spelled.
//! 2. `key`: the HMAC-SHA256 key, keyed once; `keyset`: several, by `kid`.
//! 3. `header`: the `{"alg":"HS256",...}` we write and the one we accept.
//! 4. `json`: the strict scan of a header or payload (duplicate members
//!    refused, registered claims read by type), the one place those rules live.
//! 5. `validation`: the claims checks and their options.
//! 6. `token`: [`encode`] and [`decode`], which put the above in order.
//! 7. [`dangerous`]: reading a token without verifying it, for tools.
//!
//! This module does no I/O and needs only `core` and `alloc`. With the `std`
//! feature it reads the system clock in one place, `Validation::now`, and
//! only when no time was given with [`Validation::at_time`] or
//! [`Validation::with_clock`]; without `std` it reads no clock at all.

pub mod base64url;
pub mod dangerous;
mod error;
mod header;
mod json;
mod key;
mod keyset;
mod token;
mod validation;

pub use error::{Error, Segment};
pub use header::Header;
pub use json::strict_json_object;
pub use key::{Hs256Key, SIGNATURE_LEN};
pub use keyset::KeySet;
pub use token::{decode, decode_with_keys, encode, encode_with_header};
pub use validation::{TimeClaim, Validation, DEFAULT_MAX_TOKEN_LEN, MAX_NUMERIC_DATE};
