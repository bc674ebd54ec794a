//! `decode` on arbitrary input: never panics, and what it accepts is sound.
//!
//! Two input modes:
//! - any bytes: the token text itself (lossily made UTF-8, so a stray
//!   non-UTF-8 byte becomes U+FFFD and still reaches the base64url decoder);
//! - a 0x00 byte, then `header 0x00 payload`: raw JSON bytes that are
//!   base64url-encoded and correctly signed here, so the header checks (`alg`,
//!   `crit`, `typ`, duplicates) and the payload checks are reached directly.
//!
//! The verdict is the same whether the claims are read as `serde_json::Value`
//! or as `IgnoredAny`. Properties of every accepted token:
//! - `dangerous::decode_unverified` accepts it too and reads the same claims;
//! - the claims survive `encode` then `decode` unchanged.

#![no_main]

use libfuzzer_sys::fuzz_target;
use minijwt::{dangerous, Validation};
use serde_json::Value;

#[path = "common.rs"]
mod common;

use common::{assert_round_trip, forge, KEY, NOW};

fuzz_target!(|data: &[u8]| {
    let token = match data.split_first() {
        Some((0, rest)) => {
            let (header, payload) = match rest.iter().position(|&b| b == 0) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b"{}"[..]),
            };
            forge(header, payload)
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    };

    let validation = Validation::default().at_time(NOW);
    let result = minijwt::decode::<Value>(&KEY, &token, &validation);
    // Every JSON value fits both `Value` and `IgnoredAny`: the verdict, and
    // the first failure, cannot depend on which one is asked for.
    let ignored = minijwt::decode::<serde::de::IgnoredAny>(&KEY, &token, &validation);
    assert_eq!(ignored.err(), result.as_ref().err().cloned());
    let Ok(claims) = result else {
        return;
    };

    let unverified = dangerous::decode_unverified(&token)
        .unwrap_or_else(|e| panic!("decode accepted what decode_unverified refuses ({e}): {token}"));
    assert_eq!(unverified.claims(), &claims);
    assert_eq!(unverified.header()["alg"], "HS256");

    assert_round_trip(&claims, &validation);
});
