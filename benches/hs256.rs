//! HS256 signing and verification: minijwt against jsonwebtoken, jwt-simple
//! and a "floor".
//!
//! Run: `cargo bench --no-default-features --features std --bench hs256 -- --warm-up-time 1 --measurement-time 3`
//! (docs/PERFORMANCE.md has the numbers and the machine).
//!
//! Every library signs the same claims (a realistic access token: `iss`,
//! `sub`, `username`, `iat`, `exp`, `jti`) with the same 32-byte key, and
//! verifies the same token, minted by minijwt, with `exp` checked against the
//! real clock (its `exp` is in 2100, so it passes). Every function is run once
//! and its result checked before it is measured, so no benchmark times an error
//! path.
//!
//! The floor is the least work an HS256 library can do for the same result,
//! written inline with the building blocks minijwt uses too:
//!
//! - sign: serde_json serializes the claims struct; the base64url of the
//!   header is a constant; the `base64` crate (`URL_SAFE_NO_PAD`) encodes the
//!   payload and the tag; HMAC-SHA256 is a pre-keyed `hmac::Hmac<Sha256>`
//!   cloned per call.
//! - verify: split at the dots; decode the signature into a 32-byte array;
//!   `verify_slice` (constant time) over `header.payload`; decode the payload;
//!   serde_json deserializes it into the claims struct; `exp` against the clock.
//!
//!   The header is *compared*, not decoded: a verifier that accepts one
//!   algorithm from one issuer can demand the header it issues byte for byte,
//!   which is a complete `alg` check for 36 bytes of `memcmp`. Decoding it and
//!   parsing its JSON is work a general verifier (minijwt, jsonwebtoken,
//!   jwt-simple) chooses, so it is not part of the floor.
//!
//!   The floor does none of minijwt's strictness: no duplicate-member check, no
//!   type check of the registered claims beyond what serde does for the struct,
//!   no `nbf`/`iat`, no `typ`. The distance to it is the price of those.

use std::hint::black_box;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// 32 bytes: the minimum minijwt accepts, and the size of the HMAC output.
const SECRET: &[u8; 32] = b"bench-secret-0123456789abcdefghi";
const IAT: i64 = 1_700_000_000;
/// 2100-01-01T00:00:00Z: far enough for every library's `exp` check to pass.
const EXP: i64 = 4_102_444_800;

/// A realistic access token's claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Claims {
    iss: String,
    sub: String,
    username: String,
    iat: i64,
    exp: i64,
    jti: String,
}

fn claims() -> Claims {
    Claims {
        iss: "https://auth.example.com".to_owned(),
        sub: "8d3c9f52-6c1e-4b8a-9d7e-2f4a1b0c5e93".to_owned(),
        username: "alice.liddell".to_owned(),
        iat: IAT,
        exp: EXP,
        jti: "f47ac10b-58cc-4372-a567-0e02b2c3d479".to_owned(),
    }
}

/// jwt-simple keeps the registered claims in its own `JWTClaims`; the rest
/// goes in a custom struct flattened beside them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct SimpleCustom {
    username: String,
}

fn jwt_simple_claims(c: &Claims) -> jwt_simple::prelude::JWTClaims<SimpleCustom> {
    use jwt_simple::prelude::{Duration, JWTClaims};
    JWTClaims {
        issued_at: Some(Duration::from_secs(c.iat as u64)),
        expires_at: Some(Duration::from_secs(c.exp as u64)),
        invalid_before: None,
        issuer: Some(c.iss.clone()),
        subject: Some(c.sub.clone()),
        audiences: None,
        jwt_id: Some(c.jti.clone()),
        nonce: None,
        custom: SimpleCustom {
            username: c.username.clone(),
        },
    }
}

type HmacSha256 = Hmac<Sha256>;

/// `base64url({"alg":"HS256","typ":"JWT"})`: the floor's header, written and required as is.
const FLOOR_HEADER: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

fn floor_sign(mac: &HmacSha256, claims: &Claims) -> String {
    let payload = serde_json::to_vec(claims).expect("claims serialize");
    let mut token = String::with_capacity(
        FLOOR_HEADER.len() + 1 + base64::encoded_len(payload.len(), false).unwrap_or(0) + 44,
    );
    token.push_str(FLOOR_HEADER);
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
    let mut mac = mac.clone();
    mac.update(token.as_bytes());
    let tag = mac.finalize().into_bytes();
    token.push('.');
    URL_SAFE_NO_PAD.encode_string(tag, &mut token);
    token
}

fn floor_verify(mac: &HmacSha256, token: &str) -> Option<Claims> {
    let (signing_input, signature) = token.rsplit_once('.')?;
    let (header, payload) = signing_input.split_once('.')?;
    if header != FLOOR_HEADER {
        return None;
    }
    let mut tag = [0u8; 32];
    if URL_SAFE_NO_PAD.decode_slice(signature, &mut tag).ok()? != tag.len() {
        return None;
    }
    let mut mac = mac.clone();
    mac.update(signing_input.as_bytes());
    mac.verify_slice(&tag).ok()?;
    let payload = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let claims: Claims = serde_json::from_slice(&payload).ok()?;
    (claims.exp > unix_now()).then_some(claims)
}

fn unix_now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    i64::try_from(secs).unwrap_or(i64::MAX)
}

/// Keys and options of every library, built once, outside the measurements.
struct Setup {
    claims: Claims,
    minijwt_key: minijwt::Hs256Key,
    minijwt_validation: minijwt::Validation,
    jsonwebtoken_header: jsonwebtoken::Header,
    jsonwebtoken_encoding: jsonwebtoken::EncodingKey,
    jsonwebtoken_decoding: jsonwebtoken::DecodingKey,
    jsonwebtoken_validation: jsonwebtoken::Validation,
    jwt_simple_key: jwt_simple::prelude::HS256Key,
    jwt_simple_claims: jwt_simple::prelude::JWTClaims<SimpleCustom>,
    floor_mac: HmacSha256,
    /// The token every verifier checks, minted by minijwt.
    token: String,
}

impl Setup {
    fn new() -> Self {
        let claims = claims();
        let minijwt_key = minijwt::Hs256Key::new(SECRET).expect("32-byte key");
        let token = minijwt::encode(&minijwt_key, &claims).expect("minijwt signs");
        let mut jsonwebtoken_validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        jsonwebtoken_validation.validate_exp = true; // the default; said for the reader
        Setup {
            jwt_simple_claims: jwt_simple_claims(&claims),
            claims,
            minijwt_key,
            // exp required and checked against the system clock, no leeway.
            minijwt_validation: minijwt::Validation::default(),
            jsonwebtoken_header: jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            jsonwebtoken_encoding: jsonwebtoken::EncodingKey::from_secret(SECRET),
            jsonwebtoken_decoding: jsonwebtoken::DecodingKey::from_secret(SECRET),
            jsonwebtoken_validation,
            jwt_simple_key: jwt_simple::prelude::HS256Key::from_bytes(SECRET),
            floor_mac: HmacSha256::new_from_slice(SECRET).expect("any key length"),
            token,
        }
    }

    fn minijwt_sign(&self) -> String {
        minijwt::encode(&self.minijwt_key, black_box(&self.claims)).expect("minijwt signs")
    }
    fn minijwt_verify(&self, token: &str) -> Claims {
        minijwt::decode(&self.minijwt_key, black_box(token), &self.minijwt_validation)
            .expect("minijwt verifies")
    }

    fn jsonwebtoken_sign(&self) -> String {
        jsonwebtoken::encode(
            &self.jsonwebtoken_header,
            black_box(&self.claims),
            &self.jsonwebtoken_encoding,
        )
        .expect("jsonwebtoken signs")
    }
    fn jsonwebtoken_verify(&self, token: &str) -> Claims {
        jsonwebtoken::decode::<Claims>(
            black_box(token),
            &self.jsonwebtoken_decoding,
            &self.jsonwebtoken_validation,
        )
        .expect("jsonwebtoken verifies")
        .claims
    }

    fn jwt_simple_sign(&self, claims: jwt_simple::prelude::JWTClaims<SimpleCustom>) -> String {
        use jwt_simple::prelude::MACLike;
        self.jwt_simple_key
            .authenticate(claims)
            .expect("jwt-simple signs")
    }
    fn jwt_simple_verify(&self, token: &str) -> jwt_simple::prelude::JWTClaims<SimpleCustom> {
        use jwt_simple::prelude::MACLike;
        // Default options: exp checked against the clock (15 min tolerance).
        self.jwt_simple_key
            .verify_token::<SimpleCustom>(black_box(token), None)
            .expect("jwt-simple verifies")
    }

    fn floor_sign(&self) -> String {
        floor_sign(&self.floor_mac, black_box(&self.claims))
    }
    fn floor_verify(&self, token: &str) -> Claims {
        floor_verify(&self.floor_mac, black_box(token)).expect("floor verifies")
    }

    /// Runs every function once, outside the measurements: each must succeed,
    /// and every token signed by one library must verify with the others.
    fn check(&self) {
        assert_eq!(self.minijwt_verify(&self.token), self.claims);
        assert_eq!(self.jsonwebtoken_verify(&self.token), self.claims);
        assert_eq!(self.floor_verify(&self.token), self.claims);
        let simple = self.jwt_simple_verify(&self.token);
        assert_eq!(simple.subject.as_deref(), Some(self.claims.sub.as_str()));
        assert_eq!(simple.custom.username, self.claims.username);

        // The floor signs exactly what minijwt signs.
        assert_eq!(self.floor_sign(), self.token);
        // The others order or spell the JSON differently, but mint valid tokens.
        for token in [
            self.jsonwebtoken_sign(),
            self.jwt_simple_sign(self.jwt_simple_claims.clone()),
        ] {
            let back = self.minijwt_verify(&token);
            assert_eq!(back, self.claims);
        }
    }
}

fn sign(c: &mut Criterion) {
    let setup = Setup::new();
    setup.check();
    let mut group = c.benchmark_group("hs256_sign");
    group.bench_function("minijwt", |b| b.iter(|| setup.minijwt_sign()));
    group.bench_function("jsonwebtoken", |b| b.iter(|| setup.jsonwebtoken_sign()));
    // jwt-simple takes its claims by value: the clone is made outside the timing.
    group.bench_function("jwt-simple", |b| {
        b.iter_batched(
            || setup.jwt_simple_claims.clone(),
            |claims| setup.jwt_simple_sign(claims),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("floor", |b| b.iter(|| setup.floor_sign()));
    group.finish();
}

fn verify(c: &mut Criterion) {
    let setup = Setup::new();
    setup.check();
    let token = setup.token.as_str();
    let mut group = c.benchmark_group("hs256_verify");
    group.bench_function("minijwt", |b| b.iter(|| setup.minijwt_verify(token)));
    group.bench_function("jsonwebtoken", |b| b.iter(|| setup.jsonwebtoken_verify(token)));
    group.bench_function("jwt-simple", |b| b.iter(|| setup.jwt_simple_verify(token)));
    group.bench_function("floor", |b| b.iter(|| setup.floor_verify(token)));
    group.finish();
}

criterion_group!(benches, sign, verify);
criterion_main!(benches);
