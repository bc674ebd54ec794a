//! Shared by the fuzz targets: the fixed key, the fixed clock, token forging
//! and the claims round-trip property.
//!
//! Each target includes this file with `#[path = "common.rs"] mod common;`,
//! so it is not a target itself.

#![allow(dead_code)] // not every target uses every helper

use std::sync::LazyLock;

use minijwt::{base64url, Hs256Key, Validation};
use serde_json::Value;

/// The key of `tests/data/jwt_negative_cases.json`, so its tokens are good seeds.
pub const SECRET: &[u8] = b"minijwt-test-key-0123456789abcdef";

/// The clock of every check: 2023-11-14, between the seed tokens' `iat`
/// (1_700_000_000) and `exp` (4_102_444_800).
pub const NOW: i64 = 1_700_000_100;

pub static KEY: LazyLock<Hs256Key> = LazyLock::new(|| Hs256Key::new(SECRET).expect("33-byte key"));

/// `base64url(header) "." base64url(payload) "." base64url(HMAC(KEY, ...))`
/// for any bytes: a token `encode` would never build, but correctly signed, so
/// the fuzzer gets past the signature into the header and claims checks.
pub fn forge(header: &[u8], payload: &[u8]) -> String {
    let mut token = base64url::encode(header);
    token.push('.');
    base64url::encode_into(payload, &mut token);
    let signature = KEY.sign(token.as_bytes());
    token.push('.');
    base64url::encode_into(&signature, &mut token);
    token
}

/// Claims that `decode` accepted under `validation` must survive `encode`
/// then `decode` unchanged.
///
/// Re-encoding may lengthen the token (`1e16` is written back as
/// `10000000000000000.0`; a short header becomes the default one), so the
/// size cap is lifted for the second decode: the property is about claims.
pub fn assert_round_trip(claims: &Value, validation: &Validation) {
    let token = minijwt::encode(&KEY, claims).expect("accepted claims must encode again");
    let relaxed = validation.clone().with_max_token_len(usize::MAX);
    let back: Value = minijwt::decode(&KEY, &token, &relaxed)
        .unwrap_or_else(|e| panic!("re-encoded claims {claims} refused: {e}\ntoken: {token}"));
    assert_eq!(&back, claims, "claims changed in a round trip through {token}");
}

/// Whether some JSON object in `bytes` has a member name twice, at any depth;
/// `None` if `bytes` is not JSON. Written here on purpose with another method
/// than minijwt's (a `HashSet` per object), as an independent oracle.
pub fn has_duplicate_member(bytes: &[u8]) -> Option<bool> {
    serde_json::from_slice::<Dups>(bytes)
        .ok()
        .map(|Dups(found)| found)
}

struct Dups(bool);

impl<'de> serde::Deserialize<'de> for Dups {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(DupsVisitor)
    }
}

struct DupsVisitor;

impl<'de> serde::de::Visitor<'de> for DupsVisitor {
    type Value = Dups;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Dups, E> {
        Ok(Dups(false))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Dups, E> {
        Ok(Dups(false))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Dups, E> {
        Ok(Dups(false))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Dups, E> {
        Ok(Dups(false))
    }
    fn visit_str<E>(self, _: &str) -> Result<Dups, E> {
        Ok(Dups(false))
    }
    fn visit_unit<E>(self) -> Result<Dups, E> {
        Ok(Dups(false))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Dups, A::Error> {
        let mut found = false;
        while let Some(Dups(inner)) = seq.next_element()? {
            found |= inner;
        }
        Ok(Dups(found))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Dups, A::Error> {
        let mut seen = std::collections::HashSet::new();
        let mut found = false;
        while let Some(name) = map.next_key::<String>()? {
            found |= !seen.insert(name);
            let Dups(inner) = map.next_value()?;
            found |= inner;
        }
        Ok(Dups(found))
    }
}
