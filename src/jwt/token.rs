//! Building and checking compact HS256 tokens: `header.payload.signature`.

use alloc::borrow::ToOwned;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::base64url;
use super::error::{Error, Segment};
use super::header::{self, Header, DEFAULT_HEADER_B64};
use super::json;
use super::key::{Hs256Key, SIGNATURE_LEN};
use super::keyset::KeySet;
use super::validation::{Validation, REGISTERED};

/// Signs `claims` with header `{"alg":"HS256","typ":"JWT"}`.
///
/// `claims` must serialize to a JSON object. The token is
/// `base64url(header) "." base64url(claims) "." base64url(HMAC-SHA256(key, first two parts))`.
///
/// ```
/// use minijwt::{encode, Hs256Key};
///
/// let key = Hs256Key::new(b"a secret of at least 32 bytes...").unwrap();
/// let token = encode(&key, &serde_json::json!({"sub": "42", "exp": 1_900_000_000})).unwrap();
/// assert!(token.starts_with("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
/// assert_eq!(token.split('.').count(), 3);
/// ```
pub fn encode<T: Serialize + ?Sized>(key: &Hs256Key, claims: &T) -> Result<String, Error> {
    encode_with_header(key, &Header::new(), claims)
}

/// Signs `claims` with the given header (another `typ`, a `kid`).
///
/// ```
/// use minijwt::{decode, encode_with_header, Header, Hs256Key, Validation};
///
/// let key = Hs256Key::new(&[1u8; 32]).unwrap();
/// let header = Header::new().with_typ("at+jwt");
/// let token = encode_with_header(&key, &header, &serde_json::json!({"exp": 10})).unwrap();
/// let checks = Validation::default().with_typ("at+jwt").at_time(0);
/// assert!(decode::<serde_json::Value>(&key, &token, &checks).is_ok());
/// ```
pub fn encode_with_header<T: Serialize + ?Sized>(
    key: &Hs256Key,
    header: &Header,
    claims: &T,
) -> Result<String, Error> {
    let payload = serde_json::to_vec(claims).map_err(|e| Error::Encode(e.to_string()))?;
    if payload.first() != Some(&b'{') {
        return Err(Error::Encode("claims must serialize to a JSON object".to_owned()));
    }

    let mut token = Vec::with_capacity(DEFAULT_HEADER_B64.len() + base64url::encoded_len(payload.len()) + 45);
    if header.is_default() {
        token.extend_from_slice(DEFAULT_HEADER_B64.as_bytes());
    } else {
        base64url::encode_to_vec(&header.to_json(), &mut token);
    }
    token.push(b'.');
    base64url::encode_to_vec(&payload, &mut token);

    // The signing input is everything written so far: `header.payload`.
    let signature = key.sign(&token);
    token.push(b'.');
    base64url::encode_to_vec(&signature, &mut token);
    Ok(String::from_utf8(token).expect("base64url and '.' are ASCII"))
}

/// Verifies `token` and returns its claims.
///
/// The checks run from cheap to expensive, and nothing from the payload is
/// read before the signature is proven:
///
/// 1. length at most [`Validation::max_token_len`];
/// 2. exactly three segments, the header and payload non-empty;
/// 3. header: canonical base64url, a JSON object without duplicate members,
///    `alg` exactly `"HS256"`, no `crit`, the expected `typ`;
/// 4. signature: non-empty, canonical base64url of exactly 32 bytes, equal in constant
///    time to HMAC-SHA256 over the received `header.payload` bytes;
/// 5. payload: canonical base64url, a JSON object without duplicate members,
///    registered claims of the right types;
/// 6. the claims checks of `validation` (`exp`, `nbf`, `iat`, `iss`, `sub`, `aud`, required);
/// 7. deserialization into `T`.
///
/// ```
/// use minijwt::{decode, encode, Error, Hs256Key, Validation};
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Claims { sub: String, exp: i64 }
///
/// let key = Hs256Key::new(&[9u8; 32]).unwrap();
/// let token = encode(&key, &serde_json::json!({"sub": "42", "exp": 4_102_444_800i64})).unwrap();
/// let claims: Claims = decode(&key, &token, &Validation::default()).unwrap();
/// assert_eq!(claims.sub, "42");
///
/// let other_key = Hs256Key::new(&[8u8; 32]).unwrap();
/// assert_eq!(
///     decode::<Claims>(&other_key, &token, &Validation::default()).err(),
///     Some(Error::InvalidSignature)
/// );
/// ```
pub fn decode<T: DeserializeOwned>(key: &Hs256Key, token: &str, validation: &Validation) -> Result<T, Error> {
    claims_of(Keys::One(key), token, validation)
}

/// [`decode`] with the key the token's `kid` names in `keys` (or, for a
/// token without `kid`, the set's legacy key). An unknown `kid` is
/// [`Error::UnknownKeyId`]; no other key is tried.
pub fn decode_with_keys<T: DeserializeOwned>(
    keys: &KeySet,
    token: &str,
    validation: &Validation,
) -> Result<T, Error> {
    claims_of(Keys::Set(keys), token, validation)
}

/// Which key verifies the signature.
#[derive(Clone, Copy)]
pub(crate) enum Keys<'a> {
    /// This one, whatever the header's `kid`.
    One(&'a Hs256Key),
    /// The one the header's `kid` selects.
    Set(&'a KeySet),
    /// None: the signature is not checked (`dangerous` only).
    Unchecked,
}

fn claims_of<T: DeserializeOwned>(keys: Keys<'_>, token: &str, validation: &Validation) -> Result<T, Error> {
    let payload = check_up_to_payload(keys, token, validation)?;
    let text = check_payload(&payload, validation)?;
    // Step 7: the text is now known to be a valid, strict claims set. Read
    // as a `str` (checked as UTF-8 once, by the strict pass), so that
    // serde_json does not check each string's UTF-8 again.
    serde_json::from_str(text).map_err(|e| Error::Claims(super::error::echo(&e.to_string())))
}

/// Runs every check of [`decode`] but the last (deserialization).
///
/// Without a key (only for [`dangerous::check_without_signature`](super::dangerous::check_without_signature))
/// the two signature steps are skipped and everything else runs.
pub(crate) fn verify(keys: Keys<'_>, token: &str, validation: &Validation) -> Result<(), Error> {
    let payload = check_up_to_payload(keys, token, validation)?;
    check_payload(&payload, validation).map(drop)
}

/// Steps 1 to 4 of [`decode`]; returns the payload's bytes, decoded from base64url.
fn check_up_to_payload(keys: Keys<'_>, token: &str, validation: &Validation) -> Result<Vec<u8>, Error> {
    with_segments(token, validation.max_token_len(), |segments| {
        // The signature's emptiness is checked after the header, so that an
        // unsigned `alg: none` token is reported for its algorithm.
        non_empty(Segment::Header, segments.header)?;
        non_empty(Segment::Payload, segments.payload)?;

        // One buffer for the three segments in turn, large enough for any of them.
        let mut bytes = Vec::with_capacity(token.len());
        let key = if segments.header == DEFAULT_HEADER_B64 {
            // The header `encode` writes, byte for byte: it is known to pass
            // `check_received` with `typ` "JWT" and no `kid`, so it need not be
            // decoded again.
            validation.check_typ(Some("JWT"))?;
            select(keys, None)?
        } else {
            decode_segment(segments.header, Segment::Header, &mut bytes)?;
            let received = header::check_received(&bytes)?;
            validation.check_typ(received.typ.as_deref())?;
            select(keys, received.kid.as_deref())?
        };

        non_empty(Segment::Signature, segments.signature)?;
        bytes.clear();
        decode_segment(segments.signature, Segment::Signature, &mut bytes)?;
        if let Some(key) = key {
            if bytes.len() != SIGNATURE_LEN {
                return Err(Error::SignatureLength { len: bytes.len() });
            }
            if !key.verify(segments.signing_input.as_bytes(), &bytes) {
                return Err(Error::InvalidSignature);
            }
        }

        bytes.clear();
        decode_segment(segments.payload, Segment::Payload, &mut bytes)?;
        Ok(bytes)
    })
}

/// The key that verifies a token whose header has this `kid`.
fn select<'a>(keys: Keys<'a>, kid: Option<&str>) -> Result<Option<&'a Hs256Key>, Error> {
    match keys {
        Keys::One(key) => Ok(Some(key)),
        Keys::Set(set) => set.select(kid).map(Some),
        Keys::Unchecked => Ok(None),
    }
}

/// Steps 5 and 6 of [`decode`]: the strict pass over the payload, then the
/// claims checks. Returns the payload as the text the strict pass read.
fn check_payload<'a>(payload: &'a [u8], validation: &Validation) -> Result<&'a str, Error> {
    let claims = json::parse_object(payload, Segment::Payload, &REGISTERED)?;
    validation.check_claims(&claims, validation.try_now()?)?;
    Ok(claims.json())
}

/// The three parts of a compact token, as received.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Segments<'a> {
    pub(crate) header: &'a str,
    pub(crate) payload: &'a str,
    pub(crate) signature: &'a str,
    /// `header.payload`: the exact bytes the signature covers.
    pub(crate) signing_input: &'a str,
}

/// Refuses an empty segment.
pub(crate) fn non_empty(segment: Segment, text: &str) -> Result<(), Error> {
    match text.is_empty() {
        true => Err(Error::EmptySegment(segment)),
        false => Ok(()),
    }
}

/// Splits a token into its three segments after checking its length, and
/// runs `check` on them.
///
/// The header ends at the first dot and the signature starts after the last:
/// both are short to search for. A dot between them, in the payload, makes
/// more than three segments, an error that comes before any other; but it is
/// looked for only when `check` fails, since `check` always does on such a
/// payload (`.` is not base64url). So a valid token's payload is searched for
/// dots by its decoding alone, not by a scan of its own.
pub(crate) fn with_segments<'a, R>(
    token: &'a str,
    max_len: usize,
    check: impl FnOnce(Segments<'a>) -> Result<R, Error>,
) -> Result<R, Error> {
    if token.len() > max_len {
        return Err(Error::TooLong {
            len: token.len(),
            max: max_len,
        });
    }
    let segments = token.split_once('.').zip(token.rsplit_once('.'));
    let segments = segments.and_then(|((header, _), (signing_input, signature))| {
        Some(Segments {
            header,
            payload: signing_input.get(header.len() + 1..)?,
            signature,
            signing_input,
        })
    });
    match segments.map(|segments| (segments, check(segments))) {
        Some((_, Ok(checked))) => Ok(checked),
        Some((segments, Err(error))) if !segments.payload.contains('.') => Err(error),
        _ => Err(Error::SegmentCount {
            found: token.matches('.').count() + 1,
        }),
    }
}

pub(crate) fn decode_segment(text: &str, segment: Segment, out: &mut Vec<u8>) -> Result<(), Error> {
    base64url::decode_into(text.as_bytes(), out).map_err(|error| Error::Base64 { segment, error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn key() -> Hs256Key {
        Hs256Key::new(b"minijwt-test-key-0123456789abcdef").unwrap()
    }

    /// Signs arbitrary header and payload bytes, so tests can build tokens
    /// `encode` would never produce.
    fn forge(header: &[u8], payload: &[u8]) -> String {
        let signing_input = format!("{}.{}", base64url::encode(header), base64url::encode(payload));
        let signature = base64url::encode(&key().sign(signing_input.as_bytes()));
        format!("{signing_input}.{signature}")
    }

    #[test]
    fn round_trip() {
        let claims = json!({"sub": "1", "exp": 4_102_444_800i64, "nested": {"a": [1, 2.5, null]}});
        let token = encode(&key(), &claims).unwrap();
        // A fixed time: without std there is no other.
        let now = Validation::default().at_time(1_700_000_000);
        assert_eq!(decode::<Value>(&key(), &token, &now).unwrap(), claims);
    }

    #[test]
    fn claims_must_be_an_object() {
        assert!(matches!(encode(&key(), &[1, 2]), Err(Error::Encode(_))));
        assert!(matches!(encode(&key(), "s"), Err(Error::Encode(_))));
    }

    #[test]
    fn segment_count_and_emptiness() {
        let v = Validation::default();
        assert_eq!(
            decode::<Value>(&key(), "a.b", &v).unwrap_err(),
            Error::SegmentCount { found: 2 }
        );
        assert_eq!(
            decode::<Value>(&key(), "a.b.c.d", &v).unwrap_err(),
            Error::SegmentCount { found: 4 }
        );
        assert_eq!(
            decode::<Value>(&key(), "", &v).unwrap_err(),
            Error::SegmentCount { found: 1 }
        );
        // A dot in the payload is found only when a later check fails, but
        // it is still reported first.
        for token in [
            "!.b.c.d",
            "a...",
            "e30.e30.e30.e30",
            &format!("{}.", forge(b"{}", b"{}")),
        ] {
            let found = token.matches('.').count() + 1;
            assert_eq!(
                decode::<Value>(&key(), token, &v).unwrap_err(),
                Error::SegmentCount { found }
            );
        }
        assert_eq!(
            decode::<Value>(&key(), "..", &v).unwrap_err(),
            Error::EmptySegment(Segment::Header)
        );
        assert_eq!(
            decode::<Value>(&key(), "a..c", &v).unwrap_err(),
            Error::EmptySegment(Segment::Payload)
        );
    }

    #[test]
    fn signature_is_checked_before_the_payload_is_parsed() {
        // A payload that is not JSON, under a bad signature, must fail on the
        // signature: the payload was never looked at.
        let good = forge(br#"{"alg":"HS256"}"#, b"not json");
        let (input, _) = good.rsplit_once('.').unwrap();
        let bad = format!("{input}.{}", base64url::encode(&[0u8; 32]));
        assert_eq!(
            decode::<Value>(&key(), &bad, &Validation::default()).unwrap_err(),
            Error::InvalidSignature
        );
        assert!(matches!(
            decode::<Value>(&key(), &good, &Validation::default()),
            Err(Error::Json {
                segment: Segment::Payload,
                ..
            })
        ));
    }

    #[test]
    fn signature_must_be_32_bytes() {
        let token = forge(br#"{"alg":"HS256"}"#, br#"{"exp":4102444800}"#);
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = base64url::decode(sig).unwrap();
        let short = format!("{input}.{}", base64url::encode(&sig[..31]));
        assert_eq!(
            decode::<Value>(&key(), &short, &Validation::default()).unwrap_err(),
            Error::SignatureLength { len: 31 }
        );
    }

    #[test]
    fn claims_type_mismatch_is_reported_after_all_checks() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)] // read only through Debug
        struct Strict {
            user: String,
        }
        let token = encode(&key(), &json!({"exp": 4_102_444_800i64})).unwrap();
        assert!(matches!(
            decode::<Strict>(&key(), &token, &Validation::default().at_time(0)),
            Err(Error::Claims(_))
        ));
    }

    #[test]
    fn the_time_comes_from_at_time_or_the_clock_function() {
        let token = encode(&key(), &json!({"exp": 100})).unwrap();
        let fixed = Validation::default().at_time(99);
        assert!(decode::<Value>(&key(), &token, &fixed).is_ok());
        let late = Validation::default().with_clock(|| 100);
        assert!(matches!(
            decode::<Value>(&key(), &token, &late),
            Err(Error::Expired { now: 100, .. })
        ));
        // Each replaces the other: the last one given is the time.
        assert!(decode::<Value>(&key(), &token, &late.clone().at_time(99)).is_ok());
        assert!(decode::<Value>(&key(), &token, &fixed.with_clock(|| 100)).is_err());
    }

    /// Without `std` there is no system clock: no time given, no token passes.
    #[cfg(not(feature = "std"))]
    #[test]
    fn without_std_and_without_a_time_every_token_is_refused() {
        let v = Validation::default();
        assert_eq!(v.try_now(), Err(Error::NoClock));
        let token = encode(&key(), &json!({"exp": 4_102_444_800i64})).unwrap();
        assert_eq!(decode::<Value>(&key(), &token, &v), Err(Error::NoClock));
        // Even when no check would need the time: fail closed, never at 0.
        let untimed = encode(&key(), &json!({"sub": "1"})).unwrap();
        assert_eq!(
            decode::<Value>(&key(), &untimed, &v.clone().dangerous_skip_exp_check()),
            Err(Error::NoClock)
        );
        // The signature is still checked first.
        let other = Hs256Key::new(&[9u8; 32]).unwrap();
        assert_eq!(decode::<Value>(&other, &token, &v), Err(Error::InvalidSignature));
        assert!(decode::<Value>(&key(), &token, &v.at_time(0)).is_ok());
    }
}
