//! External vectors: RFC JWS examples and Wycheproof HMAC-SHA256, read from `tests/data/`.
//!
//! Each test counts what it checked and compares the count with what the file
//! holds, so a parsing slip cannot turn a test into one that checks nothing.

use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use minijwt::base64url::{self, DecodeError};
use minijwt::{decode, Error, Hs256Key, Segment, Validation};
use serde_json::{json, Value};

fn read_json(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn str_field<'a>(object: &'a Value, name: &str) -> &'a str {
    object[name]
        .as_str()
        .unwrap_or_else(|| panic!("field {name:?} missing or not a string"))
}

fn hex(text: &str) -> Vec<u8> {
    assert!(text.len() % 2 == 0, "odd-length hex {text:?}");
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex digit"))
        .collect()
}

/// `header.payload`, and the signature segment, of a compact token.
fn signing_input_and_signature(token: &str) -> (&str, &str) {
    let (input, signature) = token.rsplit_once('.').expect("a compact JWS has dots");
    assert_eq!(token.matches('.').count(), 2, "{token}");
    (input, signature)
}

// ---------------------------------------------------------------------------
// jws_hs256_vectors.json
// ---------------------------------------------------------------------------

/// The RFC vectors by the start of their `source`, in file order.
const RFC_7515_A1: &str = "RFC 7515 Appendix A.1";
const RFC_7520_4_4: &str = "RFC 7520 Section 4.4";
const RFC_7797_4_1: &str = "RFC 7797 Section 4.1";

fn jws_vector(source_prefix: &str) -> Value {
    let vectors = read_json("jws_hs256_vectors.json");
    let mut found = vectors
        .as_array()
        .expect("an array of vectors")
        .iter()
        .filter(|v| str_field(v, "source").starts_with(source_prefix));
    let vector = found
        .next()
        .unwrap_or_else(|| panic!("no vector {source_prefix:?}"))
        .clone();
    assert!(found.next().is_none(), "two vectors {source_prefix:?}");
    vector
}

fn vector_key(vector: &Value) -> Hs256Key {
    let secret = base64url::decode(str_field(vector, "key_b64url")).expect("key is canonical base64url");
    Hs256Key::new(&secret).expect("RFC keys are at least 32 bytes")
}

#[test]
fn rfc_jws_vectors_verify_and_re_sign_byte_for_byte() {
    let vectors = read_json("jws_hs256_vectors.json");
    let vectors = vectors.as_array().expect("an array of vectors");
    let mut checked = 0;
    for vector in vectors {
        let source = str_field(vector, "source");
        assert_eq!(vector["signature_valid"], json!(true), "{source}");
        let key = vector_key(vector);
        let token = str_field(vector, "token");
        let (input, signature_b64) = signing_input_and_signature(token);
        let (header_b64, payload_b64) = input.split_once('.').unwrap();

        // The segments are the documented header and payload, byte for byte.
        assert_eq!(
            base64url::decode(header_b64).unwrap(),
            str_field(vector, "header_json").as_bytes(),
            "{source}"
        );
        assert_eq!(
            base64url::decode(payload_b64).unwrap(),
            str_field(vector, "payload_json").as_bytes(),
            "{source}"
        );

        let signature = base64url::decode(signature_b64).expect("canonical signature");
        assert_eq!(signature.len(), 32, "{source}");
        assert!(key.verify(input.as_bytes(), &signature), "{source}: verify");
        assert_eq!(
            base64url::encode(&key.sign(input.as_bytes())),
            signature_b64,
            "{source}: sign"
        );

        // The same tag under another key, or over other bytes, is refused.
        let other = Hs256Key::new(&[0x5a; 32]).unwrap();
        assert!(!other.verify(input.as_bytes(), &signature), "{source}: other key");
        assert!(
            !key.verify(format!("{input}x").as_bytes(), &signature),
            "{source}: other input"
        );
        checked += 1;
    }
    assert_eq!(checked, 3);
}

#[test]
fn rfc7515_a1_decodes_inside_its_validity_with_whitespace_in_the_json() {
    let vector = jws_vector(RFC_7515_A1);
    let key = vector_key(&vector);
    let token = str_field(&vector, "token");
    // Header `{"typ":"JWT",\r\n "alg":"HS256"}`: typ "JWT" passes the default
    // typ rule, and the CRLF + space is JSON whitespace, verified as received.
    let exp = 1_300_819_380;
    let claims: Value = decode(&key, token, &Validation::default().at_time(exp - 1)).unwrap();
    assert_eq!(
        claims,
        json!({"iss": "joe", "exp": exp, "http://example.com/is_root": true})
    );
    let claims: Value = decode(&key, token, &Validation::default().at_time(1_300_000_000)).unwrap();
    assert_eq!(claims["iss"], "joe");
}

#[test]
fn rfc7515_a1_is_expired_at_its_exp_and_with_the_real_clock() {
    let vector = jws_vector(RFC_7515_A1);
    let key = vector_key(&vector);
    let token = str_field(&vector, "token");
    let exp = 1_300_819_380;
    // exp is exclusive: at exp itself the token is expired.
    assert_eq!(
        decode::<Value>(&key, token, &Validation::default().at_time(exp)).unwrap_err(),
        Error::Expired {
            exp,
            now: exp,
            leeway: 0
        }
    );
    match decode::<Value>(&key, token, &Validation::default()).unwrap_err() {
        Error::Expired {
            exp: e,
            now,
            leeway: 0,
        } => {
            assert_eq!(e, exp);
            assert!(now > 1_700_000_000, "the real clock reads {now}");
        }
        other => panic!("expected Expired, got {other:?}"),
    }
}

/// RFC 7520 4.4 (header `{"alg":"HS256","kid":"018c…"}`, no typ) and RFC 7797
/// 4.1 (header `{"alg":"HS256"}`): both headers pass, the signatures are
/// genuine, and the payloads are not JSON, so decoding fails at the claims step,
/// on the payload, and not on the signature.
#[test]
fn rfc_vectors_with_non_json_payloads_fail_at_the_claims_step() {
    for source in [RFC_7520_4_4, RFC_7797_4_1] {
        let vector = jws_vector(source);
        assert_eq!(vector["payload_is_json_object"], json!(false));
        let key = vector_key(&vector);
        let token = str_field(&vector, "token");
        for validation in [Validation::default(), Validation::default().at_time(0)] {
            match decode::<Value>(&key, token, &validation).unwrap_err() {
                Error::Json {
                    segment: Segment::Payload,
                    ..
                } => {}
                other => panic!("{source}: expected Json on the payload, got {other:?}"),
            }
        }
        // Proof that the signature step ran and passed: spoil the signature and
        // the error becomes InvalidSignature, before the payload is looked at.
        let (input, _) = signing_input_and_signature(token);
        let spoiled = format!("{input}.{}", base64url::encode(&[0u8; 32]));
        assert_eq!(
            decode::<Value>(&key, &spoiled, &Validation::default()).unwrap_err(),
            Error::InvalidSignature,
            "{source}"
        );
    }
}

// ---------------------------------------------------------------------------
// jws_hs256_rfc_reject_vectors.json
// ---------------------------------------------------------------------------

#[test]
fn rfc_reject_vectors_are_refused_for_their_empty_detached_payload() {
    let vectors = read_json("jws_hs256_rfc_reject_vectors.json");
    let vectors = vectors.as_array().expect("an array of vectors");
    let mut checked = Vec::new();
    for vector in vectors {
        let name = str_field(vector, "name");
        assert_eq!(str_field(vector, "expected"), "reject", "{name}");
        let key = vector_key(vector);
        let token = str_field(vector, "token");
        let original_input = str_field(vector, "hmac_signing_input");
        let (token_input, signature_b64) = signing_input_and_signature(token);
        let signature = base64url::decode(signature_b64).unwrap();

        // The HMAC is genuine over the original input, and not over the token's own `header.`.
        assert!(key.verify(original_input.as_bytes(), &signature), "{name}");
        assert!(!key.verify(token_input.as_bytes(), &signature), "{name}");

        // Both tokens are `header..signature`: the empty payload segment is met
        // first (three non-empty segments are checked before anything is decoded).
        assert_eq!(
            decode::<Value>(&key, token, &Validation::default()).unwrap_err(),
            Error::EmptySegment(Segment::Payload),
            "{name}"
        );
        checked.push(name.to_owned());
    }
    assert_eq!(
        checked,
        ["rfc7797_4_2_b64_false_detached", "rfc7520_4_5_detached_content"]
    );
}

/// RFC 7797 4.2 with its payload put back (as base64url, the only form a compact
/// JWT has): the header's `crit: ["b64"]` is then what refuses it, before the
/// signature is even checked.
#[test]
fn rfc7797_4_2_with_payload_reattached_is_refused_for_crit() {
    let vectors = read_json("jws_hs256_rfc_reject_vectors.json");
    let vector = &vectors[0];
    assert_eq!(str_field(vector, "name"), "rfc7797_4_2_b64_false_detached");
    let key = vector_key(vector);
    let (header_b64, _) = str_field(vector, "token").split_once('.').unwrap();
    assert_eq!(
        base64url::decode(header_b64).unwrap(),
        br#"{"alg":"HS256","b64":false,"crit":["b64"]}"#
    );
    let input = format!("{header_b64}.{}", base64url::encode(b"$.02"));
    let token = format!("{input}.{}", base64url::encode(&key.sign(input.as_bytes())));
    assert_eq!(
        decode::<Value>(&key, &token, &Validation::default()).unwrap_err(),
        Error::CriticalHeader
    );
}

/// RFC 7520 4.5 with its detached payload put back is exactly RFC 7520 4.4: a
/// genuine signature over a payload that is not JSON.
#[test]
fn rfc7520_4_5_with_payload_reattached_is_rfc7520_4_4() {
    let vectors = read_json("jws_hs256_rfc_reject_vectors.json");
    let vector = &vectors[1];
    assert_eq!(str_field(vector, "name"), "rfc7520_4_5_detached_content");
    let key = vector_key(vector);
    let (_, signature_b64) = signing_input_and_signature(str_field(vector, "token"));
    let token = format!("{}.{signature_b64}", str_field(vector, "hmac_signing_input"));
    assert_eq!(token, str_field(&jws_vector(RFC_7520_4_4), "token"));
    assert!(matches!(
        decode::<Value>(&key, &token, &Validation::default()).unwrap_err(),
        Error::Json {
            segment: Segment::Payload,
            ..
        }
    ));
}

#[test]
fn rfc_keys_are_canonical_base64url_and_load_as_key_text() {
    // The A.1 key is 64 bytes: 86 characters, the last carrying 4 unused bits that must be zero.
    let vector = jws_vector(RFC_7515_A1);
    let text = str_field(&vector, "key_b64url");
    assert_eq!(base64url::decode(text).unwrap().len(), 64);
    let from_text = Hs256Key::from_base64url(&format!("{text}\n")).unwrap();
    let (input, signature) = signing_input_and_signature(str_field(&vector, "token"));
    assert!(from_text.verify(input.as_bytes(), &base64url::decode(signature).unwrap()));
    // A non-canonical last character is refused as key text too.
    let mut bad = text.to_owned();
    bad.replace_range(bad.len() - 1.., "x"); // "w" = 0b110000 -> "x" = 0b110001
    assert_eq!(
        Hs256Key::from_base64url(&bad).unwrap_err(),
        Error::KeyEncoding(DecodeError::NonZeroTrailingBits)
    );
}

// ---------------------------------------------------------------------------
// Wycheproof hmac_sha256_test.json
// ---------------------------------------------------------------------------

#[derive(Default, Debug, PartialEq)]
struct WycheproofCounts {
    /// tagSize 256 and a key of at least 32 bytes: a real HS256 signature.
    full_tag_valid: usize,
    full_tag_invalid: usize,
    /// tagSize 128: a truncated HMAC, never a valid HS256 signature.
    truncated_tag_valid: usize,
    truncated_tag_invalid: usize,
    /// 16-byte keys: refused by `Hs256Key::new`.
    short_key: usize,
}

#[test]
fn wycheproof_hmac_sha256() {
    let file = read_json("wycheproof_hmac_sha256_test.json");
    assert_eq!(file["algorithm"], "HMACSHA256");
    let mut counts = WycheproofCounts::default();
    let (mut total, mut valid, mut invalid) = (0, 0, 0);

    for group in file["testGroups"].as_array().expect("testGroups") {
        let key_bits = group["keySize"].as_u64().expect("keySize") as usize;
        let tag_bits = group["tagSize"].as_u64().expect("tagSize") as usize;
        for test in group["tests"].as_array().expect("tests") {
            let id = &test["tcId"];
            let secret = hex(str_field(test, "key"));
            let msg = hex(str_field(test, "msg"));
            let tag = hex(str_field(test, "tag"));
            assert_eq!(secret.len() * 8, key_bits, "tcId {id}");
            assert_eq!(tag.len() * 8, tag_bits, "tcId {id}");
            let expected_valid = match str_field(test, "result") {
                "valid" => true,
                "invalid" => false,
                other => panic!("tcId {id}: unexpected result {other:?}"),
            };
            total += 1;
            if expected_valid {
                valid += 1;
            } else {
                invalid += 1;
            }

            if secret.len() < Hs256Key::MIN_LEN {
                assert_eq!(secret.len(), 16, "tcId {id}");
                assert_eq!(
                    Hs256Key::new(&secret).unwrap_err(),
                    Error::KeyTooShort { len: 16 },
                    "tcId {id}"
                );
                // These vectors are still read right: the raw HMAC agrees
                // (this checks the reading of the file, not minijwt).
                let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&secret).unwrap();
                mac.update(&msg);
                let full = mac.finalize().into_bytes();
                assert_eq!(&full[..tag.len()], &tag[..], "tcId {id}");
                assert!(expected_valid, "tcId {id}");
                counts.short_key += 1;
                continue;
            }

            let key = Hs256Key::new(&secret).unwrap();
            let ours = key.sign(&msg);
            match tag_bits {
                256 => {
                    assert_eq!(key.verify(&msg, &tag), expected_valid, "tcId {id}: verify");
                    assert_eq!(ours[..] == tag[..], expected_valid, "tcId {id}: sign");
                    if expected_valid {
                        counts.full_tag_valid += 1;
                    } else {
                        counts.full_tag_invalid += 1;
                    }
                }
                128 => {
                    // A JWS verifier needs all 32 bytes, whatever the truncated MAC's verdict.
                    assert!(!key.verify(&msg, &tag), "tcId {id}: truncated tag accepted");
                    // And our HMAC is right: a valid truncated tag is a prefix of ours.
                    assert_eq!(ours[..16] == tag[..], expected_valid, "tcId {id}: prefix");
                    if expected_valid {
                        counts.truncated_tag_valid += 1;
                    } else {
                        counts.truncated_tag_invalid += 1;
                    }
                }
                other => panic!("tcId {id}: unexpected tagSize {other}"),
            }
        }
    }

    assert_eq!(file["numberOfTests"], json!(total));
    assert_eq!((total, valid, invalid), (174, 66, 108));
    assert_eq!(
        counts,
        WycheproofCounts {
            full_tag_valid: 30,
            full_tag_invalid: 54,
            truncated_tag_valid: 30,
            truncated_tag_invalid: 54,
            short_key: 6,
        }
    );
}
