//! Interoperability with two independent Rust JWT libraries: `jsonwebtoken`
//! (RustCrypto backend) and `jwt-simple` (pure Rust). Tokens made by each are
//! verified by minijwt with the same claims, and the other way round.
//!
//! Both libraries are configured explicitly rather than left on their
//! defaults: jsonwebtoken allows 60 s of leeway and jwt-simple 15 minutes, and
//! neither checks `iss` or `sub` unless told.

use std::collections::HashSet;

use minijwt::{base64url, decode, encode, encode_with_header, Error, Header, Hs256Key, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

const SECRET: &[u8] = b"interop-secret-key-with-32-bytes-at-least";
const ISSUER: &str = "https://issuer.example";
const SUBJECT: &str = "user-42";
const IAT: i64 = 1_700_000_000;
/// 2100-01-01: valid with the real clock in every library, and below 2^32
/// (jwt-simple keeps seconds in 32 bits).
const EXP: i64 = 4_102_444_800;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        iss: ISSUER.into(),
        sub: SUBJECT.into(),
        username: "Zoë \"the admin\" O'Brien ✓".into(),
        iat: IAT,
        exp: EXP,
        jti: "0c9b6e0e-5b7f-4d37-9d0e-2a7c1f3f4f11".into(),
    }
}

fn minijwt_key() -> Hs256Key {
    Hs256Key::new(SECRET).unwrap()
}

fn minijwt_checks() -> Validation {
    Validation::default()
        .with_issuer(ISSUER)
        .with_subject(SUBJECT)
        .require("jti")
}

fn decoded_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&base64url::decode(header).unwrap()).unwrap()
}

mod with_jsonwebtoken {
    use super::*;
    use jsonwebtoken::errors::ErrorKind;
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};

    fn their_checks() -> jsonwebtoken::Validation {
        let mut checks = jsonwebtoken::Validation::new(Algorithm::HS256);
        checks.leeway = 0;
        checks.validate_exp = true;
        checks.validate_nbf = true;
        checks.set_issuer(&[ISSUER]);
        checks.sub = Some(SUBJECT.into());
        checks.set_required_spec_claims(&["exp", "iss", "sub"]);
        checks
    }

    fn their_token(claims: &Claims, secret: &[u8]) -> String {
        let header = jsonwebtoken::Header::new(Algorithm::HS256);
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    #[test]
    fn their_token_verifies_in_minijwt_with_identical_claims() {
        let token = their_token(&claims(), SECRET);
        assert_eq!(decoded_header(&token), json!({"typ": "JWT", "alg": "HS256"}));
        let ours: Claims = decode(&minijwt_key(), &token, &minijwt_checks()).unwrap();
        assert_eq!(ours, claims());
        let as_json: Value = decode(&minijwt_key(), &token, &minijwt_checks()).unwrap();
        assert_eq!(as_json, serde_json::to_value(claims()).unwrap());
    }

    #[test]
    fn our_token_verifies_in_jsonwebtoken_with_identical_claims() {
        let token = encode(&minijwt_key(), &claims()).unwrap();
        let theirs =
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(SECRET), &their_checks())
                .unwrap();
        assert_eq!(theirs.claims, claims());
        assert_eq!(theirs.header.alg, Algorithm::HS256);
        assert_eq!(theirs.header.typ.as_deref(), Some("JWT"));
        assert_eq!(theirs.header.kid, None);
    }

    #[test]
    fn kid_and_typ_cross_both_ways() {
        let header = Header::new().with_kid("2026-11").with_typ("JWT");
        let token = encode_with_header(&minijwt_key(), &header, &claims()).unwrap();
        let theirs =
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(SECRET), &their_checks())
                .unwrap();
        assert_eq!(theirs.header.kid.as_deref(), Some("2026-11"));

        let mut their_header = jsonwebtoken::Header::new(Algorithm::HS256);
        their_header.kid = Some("their-kid".into());
        let token =
            jsonwebtoken::encode(&their_header, &claims(), &EncodingKey::from_secret(SECRET)).unwrap();
        let ours: Claims = decode(&minijwt_key(), &token, &minijwt_checks()).unwrap();
        assert_eq!(ours, claims());
    }

    /// The same signature bytes: HMAC-SHA256 over the same signing input.
    #[test]
    fn both_sign_the_same_input_identically() {
        let token = their_token(&claims(), SECRET);
        let (input, their_signature) = token.rsplit_once('.').unwrap();
        assert_eq!(
            base64url::encode(&minijwt_key().sign(input.as_bytes())),
            their_signature
        );
    }

    #[test]
    fn each_refuses_the_others_tokens_under_another_key() {
        let token = their_token(&claims(), b"a-different-secret-of-32-bytes-or-more");
        assert_eq!(
            decode::<Claims>(&minijwt_key(), &token, &minijwt_checks()).unwrap_err(),
            Error::InvalidSignature
        );
        let token = encode(
            &Hs256Key::new(b"a-different-secret-of-32-bytes-or-more").unwrap(),
            &claims(),
        )
        .unwrap();
        let error =
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(SECRET), &their_checks())
                .unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::InvalidSignature);
    }

    #[test]
    fn an_hs384_token_from_jsonwebtoken_is_refused_by_alg() {
        let header = jsonwebtoken::Header::new(Algorithm::HS384);
        let token = jsonwebtoken::encode(&header, &claims(), &EncodingKey::from_secret(SECRET)).unwrap();
        assert_eq!(
            decode::<Claims>(&minijwt_key(), &token, &minijwt_checks()).unwrap_err(),
            Error::UnsupportedAlgorithm("\"HS384\"".into())
        );
    }

    /// With leeway 0 on their side both agree on an expired token; with
    /// jsonwebtoken's default leeway of 60 s it would still pass there.
    #[test]
    fn both_refuse_an_expired_token_at_zero_leeway() {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
        let expired = Claims {
            exp: now - 30,
            ..claims()
        };
        let token = encode(&minijwt_key(), &expired).unwrap();
        assert!(matches!(
            decode::<Claims>(&minijwt_key(), &token, &minijwt_checks()),
            Err(Error::Expired { .. })
        ));
        let error =
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(SECRET), &their_checks())
                .unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::ExpiredSignature);
        let mut lenient = their_checks();
        lenient.leeway = 60;
        assert!(jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(SECRET), &lenient).is_ok());
    }

    #[test]
    fn wrong_issuer_is_refused_by_both() {
        let other = Claims {
            iss: "https://evil.example".into(),
            ..claims()
        };
        let token = their_token(&other, SECRET);
        assert_eq!(
            decode::<Claims>(&minijwt_key(), &token, &minijwt_checks()).unwrap_err(),
            Error::WrongIssuer("https://evil.example".into())
        );
        let error =
            jsonwebtoken::decode::<Claims>(&token, &DecodingKey::from_secret(SECRET), &their_checks())
                .unwrap_err();
        assert_eq!(error.kind(), &ErrorKind::InvalidIssuer);
    }
}

mod with_jwt_simple {
    use super::*;
    use jwt_simple::prelude::{Duration, HS256Key, JWTClaims, MACLike, UnixTimeStamp, VerificationOptions};

    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    struct Custom {
        username: String,
    }

    fn their_key() -> HS256Key {
        HS256Key::from_bytes(SECRET)
    }

    fn seconds(t: i64) -> UnixTimeStamp {
        UnixTimeStamp::from_secs(u64::try_from(t).unwrap())
    }

    fn their_claims() -> JWTClaims<Custom> {
        let c = claims();
        let mut their = jwt_simple::prelude::Claims::with_custom_claims(
            Custom { username: c.username },
            Duration::from_hours(1),
        )
        .with_issuer(c.iss)
        .with_subject(c.sub)
        .with_jwt_id(c.jti);
        their.issued_at = Some(seconds(c.iat));
        their.expires_at = Some(seconds(c.exp));
        their.invalid_before = None; // `Claims::with_custom_claims` sets nbf to now
        their
    }

    fn their_options() -> VerificationOptions {
        VerificationOptions {
            allowed_issuers: Some(HashSet::from([ISSUER.to_owned()])),
            required_subject: Some(SUBJECT.into()),
            time_tolerance: Some(Duration::from_secs(0)),
            ..VerificationOptions::default()
        }
    }

    #[test]
    fn their_token_verifies_in_minijwt_with_identical_claims() {
        let token = their_key().authenticate(their_claims()).unwrap();
        assert_eq!(decoded_header(&token), json!({"alg": "HS256", "typ": "JWT"}));
        let ours: Claims = decode(&minijwt_key(), &token, &minijwt_checks()).unwrap();
        assert_eq!(ours, claims());
        let as_json: Value = decode(&minijwt_key(), &token, &minijwt_checks()).unwrap();
        assert_eq!(as_json, serde_json::to_value(claims()).unwrap());
    }

    #[test]
    fn our_token_verifies_in_jwt_simple_with_identical_claims() {
        let token = encode(&minijwt_key(), &claims()).unwrap();
        let theirs: JWTClaims<Custom> = their_key().verify_token(&token, Some(their_options())).unwrap();
        let c = claims();
        assert_eq!(theirs.issuer.as_deref(), Some(ISSUER));
        assert_eq!(theirs.subject.as_deref(), Some(SUBJECT));
        assert_eq!(theirs.jwt_id, Some(c.jti));
        assert_eq!(theirs.custom, Custom { username: c.username });
        assert_eq!(theirs.issued_at, Some(seconds(IAT)));
        assert_eq!(theirs.expires_at, Some(seconds(EXP)));
        assert_eq!(theirs.invalid_before, None);
        assert!(theirs.audiences.is_none());
    }

    #[test]
    fn each_refuses_the_others_tokens_under_another_key() {
        let other = HS256Key::from_bytes(b"a-different-secret-of-32-bytes-or-more");
        let token = other.authenticate(their_claims()).unwrap();
        assert_eq!(
            decode::<Claims>(&minijwt_key(), &token, &minijwt_checks()).unwrap_err(),
            Error::InvalidSignature
        );
        let token = encode(
            &Hs256Key::new(b"a-different-secret-of-32-bytes-or-more").unwrap(),
            &claims(),
        )
        .unwrap();
        assert!(their_key()
            .verify_token::<Custom>(&token, Some(their_options()))
            .is_err());
    }

    /// jwt-simple puts `nbf` = now in every token it makes by default; minijwt
    /// accepts it at the same instant (nbf <= now), and refuses it a second earlier.
    #[test]
    fn their_default_nbf_is_honoured() {
        let now = 1_800_000_000;
        let mut their = their_claims();
        their.invalid_before = Some(seconds(now));
        their.issued_at = Some(seconds(now));
        let token = their_key().authenticate(their).unwrap();
        let checks = minijwt_checks().at_time(now);
        assert!(decode::<Claims>(&minijwt_key(), &token, &checks).is_ok());
        assert_eq!(
            decode::<Claims>(&minijwt_key(), &token, &minijwt_checks().at_time(now - 1)).unwrap_err(),
            Error::NotYetValid {
                nbf: now,
                now: now - 1,
                leeway: 0
            }
        );
    }
}
