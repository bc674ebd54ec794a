//! Verifying a token with the JWT core alone: what a service that only
//! checks tokens (or a device without an operating system) compiles.
//!
//! It needs none of minijwt's features, so it is also the example that
//! measures the core's cost (docs/PERFORMANCE.md, `bench/verify-only-size.sh`):
//!
//! ```toml
//! minijwt = { version = "0.1", default-features = false }
//! ```
//!
//! Without `std` the core has no clock, so the time is given: here fixed, so
//! that the sample token below verifies whenever this runs.
//!
//! `cargo run --example verify_only --no-default-features [-- TOKEN [UNIX_SECONDS]]`

use minijwt::{decode, Hs256Key, Validation};
use serde::Deserialize;

/// The sample's key; a real one is 32 random bytes (`minijwt keygen`).
const KEY: &[u8; 32] = b"an example key, 32 bytes or more";
/// `{"alg":"HS256","typ":"JWT"}` . `{"exp":1767229200,"iat":1767225600,"sub":"alice"}`:
/// issued 2026-01-01T00:00:00Z for an hour.
const SAMPLE: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.\
                      eyJleHAiOjE3NjcyMjkyMDAsImlhdCI6MTc2NzIyNTYwMCwic3ViIjoiYWxpY2UifQ.\
                      aqdrJwJOJwVpSeqJLn6o-hYpESByAYyIXT5FwTCEpQM";
/// 2026-01-01T00:30:00Z: half-way through the sample's hour.
const AT: i64 = 1_767_227_400;

#[derive(Deserialize)]
struct Claims {
    sub: String,
    exp: i64,
}

fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let token = args.next().unwrap_or_else(|| SAMPLE.to_owned());
    let at = match args.next().map(|s| s.parse()) {
        None => AT,
        Some(Ok(at)) => at,
        Some(Err(_)) => {
            eprintln!("verify_only: the time is Unix seconds, e.g. {AT}");
            return std::process::ExitCode::from(2);
        }
    };

    let key = Hs256Key::new(KEY).expect("32 bytes is long enough");
    match decode::<Claims>(&key, &token, &Validation::default().at_time(at)) {
        Ok(claims) => {
            println!("valid: sub {}, {} s left", claims.sub, claims.exp - at);
            std::process::ExitCode::SUCCESS
        }
        Err(error) => {
            println!("refused: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
