//! One row per verification rule and per well-known attack, each asserting the
//! exact error. Tokens are built here by a forging helper that signs arbitrary
//! header and payload bytes, so they can be shaped as no honest encoder would.
//!
//! All rows verify at a fixed clock, [`NOW`], unless they say otherwise.

use std::collections::BTreeSet;

use hmac::{Hmac, KeyInit, Mac};
use minijwt::base64url::{self, DecodeError};
use minijwt::{decode, encode, Error, Hs256Key, Segment, Validation};
use serde_json::Value;

// Only the expectations: the rest of tests/common needs the server. Each
// file uses a part of them.
#[allow(dead_code)]
#[path = "common/expect.rs"]
mod expect;
use expect::*;

const NOW: i64 = 1_800_000_000;
const SECRET: &[u8; 32] = b"rejection-table-secret-0123456!!";
const ATTACKER_SECRET: &[u8] = b"attacker-controlled-key-000000000";
const HEADER: &[u8] = br#"{"alg":"HS256","typ":"JWT"}"#;

fn key() -> Hs256Key {
    Hs256Key::new(SECRET).unwrap()
}

fn b64(bytes: &[u8]) -> String {
    base64url::encode(bytes)
}

/// Signs the text `input` exactly as given, and appends the signature segment.
fn sign_text_with(key: &Hs256Key, input: &str) -> String {
    format!("{input}.{}", b64(&key.sign(input.as_bytes())))
}

fn sign_text(input: &str) -> String {
    sign_text_with(&key(), input)
}

/// A token over arbitrary header and payload bytes, signed with the test key.
fn forge(header: &[u8], payload: &[u8]) -> String {
    sign_text(&format!("{}.{}", b64(header), b64(payload)))
}

/// HMAC with any key (even an empty one) and any of the three HS hashes, for
/// tokens minijwt's own key type would never sign.
fn raw_hmac(hash: &str, secret: &[u8], message: &[u8]) -> Vec<u8> {
    fn tag<M: Mac + KeyInit>(secret: &[u8], message: &[u8]) -> Vec<u8> {
        let mut mac = <M as KeyInit>::new_from_slice(secret).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().to_vec()
    }
    match hash {
        "SHA-256" => tag::<Hmac<sha2::Sha256>>(secret, message),
        "SHA-384" => tag::<Hmac<sha2::Sha384>>(secret, message),
        "SHA-512" => tag::<Hmac<sha2::Sha512>>(secret, message),
        other => panic!("no HMAC-{other} here"),
    }
}

/// `{"sub":"alice","exp":NOW+3600` + `extra` + `}`.
fn payload(extra: &str) -> Vec<u8> {
    format!(r#"{{"sub":"alice","exp":{}{extra}}}"#, NOW + 3600).into_bytes()
}

/// `json` with `LATER` standing for `NOW + 3600` and `NOW` for [`NOW`].
fn claims(json: &str) -> Vec<u8> {
    json.replace("LATER", &(NOW + 3600).to_string())
        .replace("NOW", &NOW.to_string())
        .into_bytes()
}

/// Header and payload segments of a forged token, and its signature bytes.
fn parts(token: &str) -> (&str, &str, Vec<u8>) {
    let mut split = token.split('.');
    let (header, payload, signature) = (
        split.next().unwrap(),
        split.next().unwrap(),
        split.next().unwrap(),
    );
    (header, payload, base64url::decode(signature).unwrap())
}

fn at_now() -> Validation {
    Validation::default().at_time(NOW)
}

/// A payload whose base64url has a partial last group (so it could carry
/// padding or unused bits), made by adding JSON whitespace.
fn payload_with_partial_group() -> Vec<u8> {
    let mut payload = payload("");
    while payload.len() % 3 == 0 {
        payload.insert(payload.len() - 1, b' ');
    }
    payload
}

/// A signed token whose `segment` (1 = payload, 2 = signature) contains '-' or
/// '_', found by varying a claim; deterministic for the fixed key.
fn token_with_url_safe_char(segment: usize) -> String {
    (0..1000)
        // '?' is 0x3F: where it ends a 3-byte group its last 6 bits encode as '_'.
        .map(|n| forge(HEADER, &payload(&format!(r#","n":"{n}??""#))))
        .find(|token| token.split('.').nth(segment).unwrap().contains(['-', '_']))
        .expect("some n gives a '-' or '_'")
}

struct Row {
    name: String,
    token: String,
    validation: Validation,
    expect: Expect,
}

fn row(name: impl Into<String>, token: String, expect: Expect) -> Row {
    row_with(name, token, at_now(), expect)
}

fn row_with(name: impl Into<String>, token: String, validation: Validation, expect: Expect) -> Row {
    Row {
        name: name.into(),
        token,
        validation,
        expect,
    }
}

fn rows() -> Vec<Row> {
    use Expect::{Accept, Is, JsonIn};
    use Segment::{Header, Payload, Signature};

    let good = forge(HEADER, &payload(""));
    let (good_header, good_payload, good_signature) = parts(&good);
    let good_input = format!("{good_header}.{good_payload}");
    let good_signature_b64 = b64(&good_signature);
    let mut rows = vec![row(
        "control: a forged token with the test key is accepted",
        good.clone(),
        Accept,
    )];

    // --- alg ------------------------------------------------------------------------------
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let unsigned = format!("{}.{}.", b64(header.as_bytes()), b64(&payload("")));
        // The header is read before the signature segment, so the algorithm
        // is reported, not the missing signature.
        rows.push(row(
            format!("alg {alg}, empty signature"),
            unsigned,
            unsupported(&format!("{alg:?}")),
        ));
        let signed = forge(header.as_bytes(), &payload(""));
        rows.push(row(
            format!("alg {alg}, valid HS256 signature"),
            signed,
            unsupported(&format!("{alg:?}")),
        ));
    }
    for (alg, hash) in [("HS384", "SHA-384"), ("HS512", "SHA-512"), ("RS256", "SHA-256")] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT"}}"#);
        let input = format!("{}.{}", b64(header.as_bytes()), b64(&payload("")));
        let token = format!("{input}.{}", b64(&raw_hmac(hash, SECRET, input.as_bytes())));
        rows.push(row(
            format!("alg swapped to {alg}, HMAC-{hash} by the same key"),
            token,
            unsupported(&format!("{alg:?}")),
        ));
    }
    rows.push(row(
        "alg lowercase hs256",
        forge(br#"{"alg":"hs256"}"#, &payload("")),
        unsupported("\"hs256\""),
    ));
    rows.push(row(
        "alg missing",
        forge(br#"{"typ":"JWT"}"#, &payload("")),
        Is(Error::MissingAlgorithm),
    ));
    rows.push(row(
        "alg a number",
        forge(br#"{"alg":256}"#, &payload("")),
        unsupported("(a number instead of a string)"),
    ));

    // --- signature -----------------------------------------------------------------------
    rows.push(row(
        "signature stripped (empty)",
        format!("{good_input}."),
        Is(Error::EmptySegment(Signature)),
    ));
    rows.push(row(
        "signature truncated to 31 bytes",
        format!("{good_input}.{}", b64(&good_signature[..31])),
        Is(Error::SignatureLength { len: 31 }),
    ));
    let mut extended = good_signature.clone();
    extended.push(0);
    rows.push(row(
        "signature extended to 33 bytes",
        format!("{good_input}.{}", b64(&extended)),
        Is(Error::SignatureLength { len: 33 }),
    ));
    rows.push(row(
        "signature of 32 zero bytes",
        format!("{good_input}.{}", b64(&[0; 32])),
        Is(Error::InvalidSignature),
    ));
    let attacker = Hs256Key::new(ATTACKER_SECRET).unwrap();
    rows.push(row(
        "signed with another key",
        sign_text_with(&attacker, &good_input),
        Is(Error::InvalidSignature),
    ));

    // --- tampering -----------------------------------------------------------------------
    let kid_header = br#"{"alg":"HS256","typ":"JWT","kid":"key-1"}"#;
    let with_kid = forge(kid_header, &payload(""));
    let (_, kid_payload, kid_signature) = parts(&with_kid);
    let flipped_header = String::from_utf8(kid_header.to_vec())
        .unwrap()
        .replace("key-1", "key-0"); // '1' ^ 1
    rows.push(row("control: header with kid", with_kid.clone(), Accept));
    rows.push(row(
        "header bit-flipped (kid key-1 -> key-0)",
        format!(
            "{}.{kid_payload}.{}",
            b64(flipped_header.as_bytes()),
            b64(&kid_signature)
        ),
        Is(Error::InvalidSignature),
    ));
    let flipped_payload = String::from_utf8(payload("")).unwrap().replace("alice", "alicd"); // 'e' ^ 1
    rows.push(row(
        "payload bit-flipped (alice -> alicd)",
        format!(
            "{good_header}.{}.{good_signature_b64}",
            b64(flipped_payload.as_bytes())
        ),
        Is(Error::InvalidSignature),
    ));

    // --- header members ------------------------------------------------------------------
    rows.push(row(
        "crit naming exp",
        forge(br#"{"alg":"HS256","crit":["exp"],"exp":1}"#, &payload("")),
        Is(Error::CriticalHeader),
    ));
    rows.push(row(
        "crit empty",
        forge(br#"{"alg":"HS256","crit":[]}"#, &payload("")),
        Is(Error::CriticalHeader),
    ));
    let jwk_header = format!(
        r#"{{"alg":"HS256","jwk":{{"kty":"oct","k":"{}"}}}}"#,
        b64(ATTACKER_SECRET)
    );
    let jwk_input = format!("{}.{}", b64(jwk_header.as_bytes()), b64(&payload("")));
    rows.push(row(
        "embedded jwk, signed with that jwk's key",
        sign_text_with(&attacker, &jwk_input),
        Is(Error::InvalidSignature),
    ));
    rows.push(row(
        "control: embedded jwk is ignored, our key decides",
        sign_text(&jwk_input),
        Accept,
    ));
    let kid_input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"../../../../../../dev/null"}"#),
        b64(&payload(""))
    );
    rows.push(row(
        "kid path traversal, signed with an empty key",
        format!(
            "{kid_input}.{}",
            b64(&raw_hmac("SHA-256", b"", kid_input.as_bytes()))
        ),
        Is(Error::InvalidSignature),
    ));
    rows.push(row(
        "duplicate alg in header",
        forge(br#"{"alg":"HS256","alg":"none"}"#, &payload("")),
        Is(Error::DuplicateMember {
            segment: Header,
            name: "alg".into(),
        }),
    ));
    rows.push(row(
        "typ not a string",
        forge(br#"{"alg":"HS256","typ":1}"#, &payload("")),
        Is(Error::InvalidHeader {
            name: "typ",
            reason: "is not a string",
        }),
    ));

    // --- typ -----------------------------------------------------------------------------
    let access = forge(br#"{"alg":"HS256","typ":"at+jwt"}"#, &payload(""));
    rows.push(row(
        "typ at+jwt where JWT is expected",
        access.clone(),
        Is(Error::WrongType {
            expected: "JWT".into(),
            found: Some("at+jwt".into()),
        }),
    ));
    rows.push(row_with(
        "typ JWT where at+jwt is expected",
        good.clone(),
        at_now().with_typ("at+jwt"),
        Is(Error::WrongType {
            expected: "at+jwt".into(),
            found: Some("JWT".into()),
        }),
    ));
    rows.push(row_with(
        "typ absent where at+jwt is expected",
        forge(br#"{"alg":"HS256"}"#, &payload("")),
        at_now().with_typ("at+jwt"),
        Is(Error::WrongType {
            expected: "at+jwt".into(),
            found: None,
        }),
    ));
    rows.push(row(
        "typ with a newline is echoed",
        forge(b"{\"alg\":\"HS256\",\"typ\":\"a\\nb\"}", &payload("")),
        Is(Error::WrongType {
            expected: "JWT".into(),
            found: Some("a\nb".into()),
        }),
    ));
    rows.push(row_with(
        "control: at+jwt where at+jwt is expected",
        access,
        at_now().with_typ("at+jwt"),
        Accept,
    ));
    rows.push(row_with(
        "control: typ application/AT+JWT matches at+jwt",
        forge(br#"{"alg":"HS256","typ":"application/AT+JWT"}"#, &payload("")),
        at_now().with_typ("at+jwt"),
        Accept,
    ));
    rows.push(row(
        "control: typ absent by default",
        forge(br#"{"alg":"HS256"}"#, &payload("")),
        Accept,
    ));

    // --- JSON ----------------------------------------------------------------------------
    rows.push(row(
        "header not JSON",
        forge(b"alg=HS256", &payload("")),
        JsonIn(Header),
    ));
    rows.push(row(
        "header JSON with trailing bytes",
        forge(br#"{"alg":"HS256"} x"#, &payload("")),
        JsonIn(Header),
    ));
    rows.push(row(
        "BOM before header JSON",
        forge(&[b"\xEF\xBB\xBF", HEADER].concat(), &payload("")),
        JsonIn(Header),
    ));
    rows.push(row(
        "BOM before payload JSON",
        forge(HEADER, &[b"\xEF\xBB\xBF", &payload("")[..]].concat()),
        JsonIn(Payload),
    ));
    rows.push(row(
        "non-UTF-8 header",
        forge(b"{\"alg\":\"HS256\",\"x\":\"\xFF\"}", &payload("")),
        JsonIn(Header),
    ));
    let mut not_utf8 = payload("");
    not_utf8.pop();
    not_utf8.extend_from_slice(b",\"x\":\"\xFF\"}");
    rows.push(row(
        "non-UTF-8 payload",
        forge(HEADER, &not_utf8),
        JsonIn(Payload),
    ));
    rows.push(row(
        "header JSON array",
        forge(br#"["HS256"]"#, &payload("")),
        Is(Error::NotAnObject(Header)),
    ));
    rows.push(row(
        "header JSON string",
        forge(br#""HS256""#, &payload("")),
        Is(Error::NotAnObject(Header)),
    ));
    rows.push(row(
        "payload JSON array",
        forge(HEADER, &claims(r#"[{"exp":NOW}]"#)),
        Is(Error::NotAnObject(Payload)),
    ));
    rows.push(row(
        "payload JSON null",
        forge(HEADER, b"null"),
        Is(Error::NotAnObject(Payload)),
    ));
    rows.push(row(
        "payload not JSON",
        forge(HEADER, b"exp=tomorrow"),
        JsonIn(Payload),
    ));
    for (name, json) in [
        ("duplicate exp, valid then expired", r#"{"exp":LATER,"exp":1}"#),
        ("duplicate exp, expired then valid", r#"{"exp":1,"exp":LATER}"#),
        (
            "duplicate exp, one spelled with an escape",
            r#"{"exp":LATER,"\u0065xp":1}"#,
        ),
    ] {
        rows.push(row(
            name,
            forge(HEADER, &claims(json)),
            Is(Error::DuplicateMember {
                segment: Payload,
                name: "exp".into(),
            }),
        ));
    }
    rows.push(row(
        "duplicate member in a nested object",
        forge(HEADER, &payload(r#","ctx":{"role":"user","role":"admin"}"#)),
        Is(Error::DuplicateMember {
            segment: Payload,
            name: "role".into(),
        }),
    ));

    // --- registered claim types --------------------------------------------------------------
    rows.push(row(
        "exp as a string",
        forge(HEADER, &claims(r#"{"exp":"LATER"}"#)),
        invalid_claim("exp", NOT_A_DATE),
    ));
    rows.push(row(
        "exp null",
        forge(HEADER, br#"{"exp":null}"#),
        invalid_claim("exp", NOT_A_DATE),
    ));
    rows.push(row(
        "exp 1e300",
        forge(HEADER, br#"{"exp":1e300}"#),
        invalid_claim("exp", OUT_OF_RANGE),
    ));
    rows.push(row(
        "exp one past year 9999",
        forge(HEADER, br#"{"exp":253402300800}"#),
        invalid_claim("exp", OUT_OF_RANGE),
    ));
    rows.push(row(
        "exp i64::MIN (no overflow)",
        forge(HEADER, format!(r#"{{"exp":{}}}"#, i64::MIN).as_bytes()),
        invalid_claim("exp", OUT_OF_RANGE),
    ));
    rows.push(row(
        "nbf i64::MIN (no overflow)",
        forge(HEADER, &payload(&format!(r#","nbf":{}"#, i64::MIN))),
        invalid_claim("nbf", OUT_OF_RANGE),
    ));
    rows.push(row(
        "iat u64::MAX",
        forge(HEADER, &payload(&format!(r#","iat":{}"#, u64::MAX))),
        invalid_claim("iat", OUT_OF_RANGE),
    ));
    rows.push(row(
        "nbf as a string",
        forge(HEADER, &payload(r#","nbf":"0""#)),
        invalid_claim("nbf", NOT_A_DATE),
    ));
    rows.push(row(
        "iss a number",
        forge(HEADER, &payload(r#","iss":7"#)),
        invalid_claim("iss", "must be a string"),
    ));
    rows.push(row(
        "sub an array",
        forge(HEADER, &claims(r#"{"exp":LATER,"sub":["a"]}"#)),
        invalid_claim("sub", "must be a string"),
    ));
    rows.push(row_with(
        "aud a number",
        forge(HEADER, &payload(r#","aud":5"#)),
        at_now().with_audience("api"),
        invalid_claim("aud", "must be a string or an array of strings"),
    ));

    // --- iss, sub, aud, required ---------------------------------------------------------------
    rows.push(row(
        "aud present, none expected",
        forge(HEADER, &payload(r#","aud":"api""#)),
        Is(Error::WrongAudience),
    ));
    rows.push(row_with(
        "aud not the expected one",
        forge(HEADER, &payload(r#","aud":["billing","admin"]"#)),
        at_now().with_audience("api"),
        Is(Error::WrongAudience),
    ));
    rows.push(row_with(
        "control: aud array containing the expected one",
        forge(HEADER, &payload(r#","aud":["billing","api"]"#)),
        at_now().with_audience("api"),
        Accept,
    ));
    rows.push(row_with(
        "wrong iss",
        forge(HEADER, &payload(r#","iss":"mallory""#)),
        at_now().with_issuer("issuer-a").with_issuer("issuer-b"),
        Is(Error::WrongIssuer("mallory".into())),
    ));
    rows.push(row_with(
        "iss with a newline is echoed",
        forge(HEADER, &payload(r#","iss":"a\nb""#)),
        at_now().with_issuer("issuer-a"),
        Is(Error::WrongIssuer("a\nb".into())),
    ));
    rows.push(row_with(
        "wrong sub",
        good.clone(),
        at_now().with_subject("bob"),
        Is(Error::WrongSubject("alice".into())),
    ));
    rows.push(row_with(
        "missing required jti",
        good.clone(),
        at_now().require("jti"),
        Is(Error::MissingClaim("jti".into())),
    ));
    rows.push(row_with(
        "missing iss when one is expected",
        good.clone(),
        at_now().with_issuer("issuer-a"),
        Is(Error::MissingClaim("iss".into())),
    ));
    rows.push(row_with(
        "missing aud when one is expected",
        good.clone(),
        at_now().with_audience("api"),
        Is(Error::MissingClaim("aud".into())),
    ));
    rows.push(row_with(
        "missing sub when one is expected",
        forge(HEADER, &claims(r#"{"exp":LATER}"#)),
        at_now().with_subject("alice"),
        Is(Error::MissingClaim("sub".into())),
    ));
    rows.push(row(
        "missing exp",
        forge(HEADER, br#"{"sub":"alice"}"#),
        Is(Error::MissingClaim("exp".into())),
    ));
    rows.push(row_with(
        "control: missing exp with the exp check off",
        forge(HEADER, br#"{"sub":"alice"}"#),
        at_now().dangerous_skip_exp_check(),
        Accept,
    ));
    rows.push(row_with(
        "exp as a string even with the exp check off",
        forge(HEADER, &claims(r#"{"exp":"LATER"}"#)),
        at_now().dangerous_skip_exp_check(),
        invalid_claim("exp", NOT_A_DATE),
    ));

    // --- time ------------------------------------------------------------------------------
    let at = |json: &str| forge(HEADER, &claims(json));
    let expired = |exp: i64, leeway: u64| {
        Is(Error::Expired {
            exp,
            now: NOW,
            leeway,
        })
    };
    let not_yet = |nbf: i64, leeway: u64| {
        Is(Error::NotYetValid {
            nbf,
            now: NOW,
            leeway,
        })
    };
    rows.push(row(
        "exp == now is expired",
        at(r#"{"exp":NOW}"#),
        expired(NOW, 0),
    ));
    rows.push(row(
        "control: exp == now + 1",
        forge(HEADER, format!(r#"{{"exp":{}}}"#, NOW + 1).as_bytes()),
        Accept,
    ));
    rows.push(row(
        "exp == now + 0.5 rounds down, expired",
        at(r#"{"exp":NOW.5}"#),
        expired(NOW, 0),
    ));
    rows.push(row_with(
        "control: expired token with the exp check off",
        at(r#"{"exp":1}"#),
        at_now().dangerous_skip_exp_check(),
        Accept,
    ));
    rows.push(row(
        "control: nbf == now",
        at(r#"{"exp":LATER,"nbf":NOW}"#),
        Accept,
    ));
    rows.push(row(
        "nbf == now + 1 is not yet valid",
        forge(HEADER, &payload(&format!(r#","nbf":{}"#, NOW + 1))),
        not_yet(NOW + 1, 0),
    ));
    rows.push(row(
        "control: iat == now",
        at(r#"{"exp":LATER,"iat":NOW}"#),
        Accept,
    ));
    rows.push(row(
        "iat == now + 1 is issued in the future",
        forge(HEADER, &payload(&format!(r#","iat":{}"#, NOW + 1))),
        Is(Error::IssuedInFuture {
            iat: NOW + 1,
            now: NOW,
            leeway: 0,
        }),
    ));
    let exp_minus_5 = forge(HEADER, format!(r#"{{"exp":{}}}"#, NOW - 5).as_bytes());
    rows.push(row_with(
        "exp == now - 5, leeway 5: expired",
        exp_minus_5.clone(),
        at_now().with_leeway(5),
        expired(NOW - 5, 5),
    ));
    rows.push(row_with(
        "control: exp == now - 5, leeway 6",
        exp_minus_5,
        at_now().with_leeway(6),
        Accept,
    ));
    let nbf_plus = |s: i64| forge(HEADER, &payload(&format!(r#","nbf":{}"#, NOW + s)));
    rows.push(row_with(
        "control: nbf == now + 5, leeway 5",
        nbf_plus(5),
        at_now().with_leeway(5),
        Accept,
    ));
    rows.push(row_with(
        "nbf == now + 6, leeway 5: not yet valid",
        nbf_plus(6),
        at_now().with_leeway(5),
        not_yet(NOW + 6, 5),
    ));
    rows.push(row_with(
        "control: iat == now + 5, leeway 5",
        forge(HEADER, &payload(&format!(r#","iat":{}"#, NOW + 5))),
        at_now().with_leeway(5),
        Accept,
    ));

    // --- size and shape --------------------------------------------------------------------
    let big = forge(HEADER, &payload(&format!(r#","blob":"{}""#, "A".repeat(1 << 20))));
    rows.push(row(
        "1 MB token",
        big.clone(),
        Is(Error::TooLong {
            len: big.len(),
            max: 8192,
        }),
    ));
    rows.push(row_with(
        "control: 1 MB token with the limit lifted",
        big,
        at_now().with_max_token_len(2 << 20),
        Accept,
    ));
    rows.push(row_with(
        "token one byte over a custom limit",
        good.clone(),
        at_now().with_max_token_len(good.len() - 1),
        Is(Error::TooLong {
            len: good.len(),
            max: good.len() - 1,
        }),
    ));
    rows.push(row(
        "empty token",
        String::new(),
        Is(Error::SegmentCount { found: 1 }),
    ));
    rows.push(row(
        "1 segment",
        good_header.to_owned(),
        Is(Error::SegmentCount { found: 1 }),
    ));
    rows.push(row(
        "2 segments",
        good_input.clone(),
        Is(Error::SegmentCount { found: 2 }),
    ));
    rows.push(row(
        "4 segments",
        format!("{good}.{good_signature_b64}"),
        Is(Error::SegmentCount { found: 4 }),
    ));
    rows.push(row(
        "5 segments (JWE shape)",
        format!("{good_header}..{good_payload}.{good_signature_b64}.x"),
        Is(Error::SegmentCount { found: 5 }),
    ));
    rows.push(row(
        "empty header segment",
        format!(".{good_payload}.{good_signature_b64}"),
        Is(Error::EmptySegment(Header)),
    ));
    rows.push(row(
        "empty payload segment",
        format!("{good_header}..{good_signature_b64}"),
        Is(Error::EmptySegment(Payload)),
    ));

    // --- base64url ---------------------------------------------------------------------------
    rows.push(row(
        "padding '=' on the signature",
        format!("{good}="),
        invalid_byte(Signature, 43, b'='),
    ));
    let partial = payload_with_partial_group();
    let partial_b64 = b64(&partial);
    let pad = "=".repeat(4 - partial_b64.len() % 4);
    rows.push(row(
        "padding '=' on the payload, signed as padded",
        sign_text(&format!("{good_header}.{partial_b64}{pad}")),
        invalid_byte(Payload, partial_b64.len(), b'='),
    ));
    let padded_header = b64(br#"{"alg":"HS256"} "#); // 16 bytes: 22 characters + "=="
    rows.push(row(
        "padding '=' on the header",
        sign_text(&format!("{padded_header}==.{good_payload}")),
        invalid_byte(Header, padded_header.len(), b'='),
    ));
    let standard = |text: &str| text.replace('-', "+").replace('_', "/");
    let first_standard = |text: &str| {
        let index = text.find(['+', '/']).unwrap();
        (index, text.as_bytes()[index])
    };
    let url_payload_token = token_with_url_safe_char(1);
    let (h, p, _) = parts(&url_payload_token);
    let std_payload = standard(p);
    let (index, byte) = first_standard(&std_payload);
    rows.push(row(
        "'+' or '/' in the payload, signed as such",
        sign_text(&format!("{h}.{std_payload}")),
        invalid_byte(Payload, index, byte),
    ));
    let url_signature_token = token_with_url_safe_char(2);
    let (input, signature_b64) = url_signature_token.rsplit_once('.').unwrap();
    let std_signature = standard(signature_b64);
    let (index, byte) = first_standard(&std_signature);
    rows.push(row(
        "'+' or '/' in the signature",
        format!("{input}.{std_signature}"),
        invalid_byte(Signature, index, byte),
    ));
    let mut spaced = good_signature_b64.clone();
    spaced.insert(10, ' ');
    rows.push(row(
        "space inside the signature",
        format!("{good_input}.{spaced}"),
        invalid_byte(Signature, 10, b' '),
    ));
    let mut tabbed = good_payload.to_owned();
    tabbed.insert(5, '\t');
    rows.push(row(
        "tab inside the payload, signed as such",
        sign_text(&format!("{good_header}.{tabbed}")),
        invalid_byte(Payload, 5, b'\t'),
    ));
    rows.push(row(
        "leading space",
        format!(" {good}"),
        invalid_byte(Header, 0, b' '),
    ));
    rows.push(row(
        "trailing CRLF",
        format!("{good}\r\n"),
        invalid_byte(Signature, 43, b'\r'),
    ));
    rows.push(row(
        "non-ASCII in the signature",
        format!("{good_input}.é{}", &good_signature_b64[1..]),
        invalid_byte(Signature, 0, 0xC3),
    ));
    // 43 characters: the last one carries 2 unused bits, which must be zero.
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let with_low_bit = |text: &str| {
        let last = alphabet
            .iter()
            .position(|&c| c == *text.as_bytes().last().unwrap())
            .unwrap();
        assert!(base64url::decode(text).is_ok());
        format!("{}{}", &text[..text.len() - 1], alphabet[last | 1] as char)
    };
    rows.push(row(
        "non-zero trailing bits in the signature",
        format!("{good_input}.{}", with_low_bit(&good_signature_b64)),
        base64_error(Signature, DecodeError::NonZeroTrailingBits),
    ));
    rows.push(row(
        "non-zero trailing bits in the payload, signed as such",
        sign_text(&format!("{good_header}.{}", with_low_bit(&partial_b64))),
        base64_error(Payload, DecodeError::NonZeroTrailingBits),
    ));
    rows.push(row(
        "header of a length no bytes encode to",
        sign_text(&format!("{good_header}A.{good_payload}")),
        base64_error(
            Header,
            DecodeError::InvalidLength {
                len: good_header.len() + 1,
            },
        ),
    ));

    rows
}

fn run(row: &Row) -> Result<Value, Error> {
    decode::<Value>(&key(), &row.token, &row.validation)
}

#[test]
fn every_rule_and_attack_gives_its_exact_error() {
    let rows = rows();
    let names: BTreeSet<&str> = rows.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names.len(), rows.len(), "row names must be unique");
    let mut failures = Vec::new();
    for row in &rows {
        if let Err(mismatch) = row.expect.check(&run(row)) {
            failures.push(format!("{}: {mismatch}", row.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    let rejections = rows.iter().filter(|r| !r.expect.accepts()).count();
    assert!(rejections >= 90, "only {rejections} rejection rows");
}

/// Every error has a message that is one non-empty line, whatever the token
/// held (newlines in a typ, an issuer, a claims field name).
#[test]
fn every_error_displays_as_one_line() {
    let mut errors: Vec<Error> = rows().iter().filter_map(|row| run(row).err()).collect();
    errors.push(Hs256Key::new(b"short").unwrap_err());
    errors.push(Hs256Key::from_base64url("not base64!").unwrap_err());
    errors.push(encode(&key(), &[1, 2]).unwrap_err());

    // A claims type that refuses a field named with a line break: serde quotes
    // the name in its message.
    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)] // read only through Debug
    struct Strict {
        exp: i64,
    }
    let token = forge(HEADER, &claims(r#"{"exp":LATER,"line\nbreak\r\u0085":1}"#));
    let claims_error = decode::<Strict>(&key(), &token, &at_now()).unwrap_err();
    assert!(
        matches!(&claims_error, Error::Claims(message) if message.contains('\n')),
        "{claims_error:?}"
    );
    errors.push(claims_error);

    assert!(errors.len() > 90);
    let kinds: BTreeSet<String> = errors
        .iter()
        .map(|e| format!("{e:?}").split(['(', ' ']).next().unwrap().to_owned())
        .collect();
    assert!(
        kinds.len() >= 20,
        "only {} kinds of error: {kinds:?}",
        kinds.len()
    );
    for error in &errors {
        let text = error.to_string();
        assert!(!text.trim().is_empty(), "{error:?}: empty message");
        assert!(!text.contains(['\n', '\r']), "{error:?}: {text:?}");
        assert!(!text.chars().any(char::is_control), "{error:?}: {text:?}");
    }
    assert_eq!(
        errors
            .last()
            .unwrap()
            .to_string()
            .matches("line\\nbreak\\r\\u{85}")
            .count(),
        1,
        "the field name is shown escaped"
    );
}

#[test]
fn an_untrusted_alg_of_1000_characters_is_echoed_cut_short() {
    let alg = "x".repeat(1000);
    let token = forge(format!(r#"{{"alg":"{alg}"}}"#).as_bytes(), &payload(""));
    let error = decode::<Value>(&key(), &token, &at_now()).unwrap_err();
    let cut = format!("\"{}…\"", "x".repeat(Error::MAX_ECHO));
    assert_eq!(error, Error::UnsupportedAlgorithm(cut.clone()));
    let text = error.to_string();
    assert!(text.contains(&cut), "{text}");
    assert!(
        text.chars().count() < Error::MAX_ECHO + 60,
        "{} characters: {text}",
        text.len()
    );

    // The same cut applies to other text copied from a token.
    let issuer = "i".repeat(1000);
    let token = forge(HEADER, &payload(&format!(r#","iss":"{issuer}""#)));
    let error = decode::<Value>(&key(), &token, &at_now().with_issuer("expected")).unwrap_err();
    assert_eq!(
        error,
        Error::WrongIssuer(format!("{}…", "i".repeat(Error::MAX_ECHO)))
    );
    let long_name = "n".repeat(1000);
    let token = forge(HEADER, &payload(&format!(r#","{long_name}":1,"{long_name}":2"#)));
    let error = decode::<Value>(&key(), &token, &at_now()).unwrap_err();
    assert_eq!(
        error,
        Error::DuplicateMember {
            segment: Segment::Payload,
            name: format!("{}…", "n".repeat(Error::MAX_ECHO))
        }
    );
}

/// A 31-byte key cannot exist, so an empty or short secret (the "kid points at
/// /dev/null" attack) can never be what a verifier checks with.
#[test]
fn short_and_empty_secrets_cannot_become_keys() {
    for len in [0, 1, 16, 31] {
        assert_eq!(
            Hs256Key::new(&vec![b'k'; len]).unwrap_err(),
            Error::KeyTooShort { len }
        );
    }
    assert!(Hs256Key::new(&[b'k'; 32]).is_ok());
}

/// The checks run in the documented order: a token wrong in every way is
/// reported for its header first, then its signature, then its claims.
#[test]
fn checks_run_header_then_signature_then_claims() {
    let bad_everything = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"none"}"#),
        b64(b"not json"),
        b64(&[0; 32])
    );
    assert_eq!(
        decode::<Value>(&key(), &bad_everything, &at_now()).unwrap_err(),
        Error::UnsupportedAlgorithm("\"none\"".into())
    );
    let bad_signature_and_claims = format!("{}.{}.{}", b64(HEADER), b64(b"not json"), b64(&[0; 32]));
    assert_eq!(
        decode::<Value>(&key(), &bad_signature_and_claims, &at_now()).unwrap_err(),
        Error::InvalidSignature
    );
    let expired_and_wrong_issuer = forge(HEADER, br#"{"exp":1,"iss":"mallory"}"#);
    assert_eq!(
        decode::<Value>(&key(), &expired_and_wrong_issuer, &at_now().with_issuer("a")).unwrap_err(),
        Error::Expired {
            exp: 1,
            now: NOW,
            leeway: 0
        }
    );
}
