//! `tests/data/jwt_negative_cases.json`: 70 tokens for the key
//! `minijwt-test-key-0123456789abcdef`, each with the verdict a strict HS256
//! verifier must give under the file's policy (HS256 only, `exp` required, the
//! real clock). minijwt's `Validation::default()` is that policy.
//!
//! Every case is checked twice over: the verdict, and for a rejection the
//! precise error, from a table keyed by case name. The table and the file must
//! name the same cases, so no case goes unchecked and no row is stale.
//!
//! The file marks some cases `SHOULD` (a policy choice, not a spec MUST).
//! minijwt rejects all of them; each has a test below named after the decision.

use std::collections::BTreeSet;
use std::path::Path;

use minijwt::base64url::{self, DecodeError};
use minijwt::{decode, Error, Hs256Key, Segment, Validation};
use serde_json::{json, Value};

// Only the expectations: the rest of tests/common needs the server. Each
// file uses a part of them.
#[allow(dead_code)]
#[path = "common/expect.rs"]
mod expect;
use expect::*;

fn data_path(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

struct Case {
    name: String,
    expected: String,
    requirement: String,
    token: String,
}

struct CaseFile {
    key: Hs256Key,
    cases: Vec<Case>,
}

fn load() -> CaseFile {
    let path = data_path("jwt_negative_cases.json");
    let file: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("case file")).unwrap();
    let key_ascii = file["key_ascii"].as_str().expect("key_ascii");
    assert_eq!(key_ascii.len(), 33);
    assert_eq!(file["verifier_policy_assumed"]["required_claims"], json!(["exp"]));
    assert_eq!(file["verifier_policy_assumed"]["allowed_algs"], json!(["HS256"]));
    let cases = file["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .map(|case| {
            let field = |name: &str| case[name].as_str().map(str::to_owned);
            let name = field("name").expect("name");
            let token = match (field("token"), field("token_file")) {
                (Some(token), None) => token,
                (None, Some(file)) => {
                    std::fs::read_to_string(data_path(&file)).unwrap_or_else(|e| panic!("{file}: {e}"))
                }
                _ => panic!("{name}: needs exactly one of token and token_file"),
            };
            Case {
                expected: field("expected").expect("expected"),
                requirement: field("requirement").expect("requirement"),
                name,
                token,
            }
        })
        .collect();
    CaseFile {
        key: Hs256Key::new(key_ascii.as_bytes()).expect("33-byte key"),
        cases,
    }
}

/// A real clock reads after the file was written (2023-11-15) and before 2096.
fn real_now(now: i64) -> bool {
    (1_700_000_000..4_000_000_000).contains(&now)
}

/// Every case of the file, by name, with the verdict minijwt gives.
fn table() -> Vec<(&'static str, Expect)> {
    use Segment::{Header, Payload, Signature};
    let control_claims = json!({"sub": "alice", "iat": 1_700_000_000, "exp": 4_102_444_800i64});
    vec![
        ("control_valid", Expect::Claims(control_claims.clone())),
        ("control_valid_no_typ", Expect::Claims(control_claims)),
        // `alg: none` with an empty signature: the header is checked before
        // the signature segment, so the algorithm is what is reported.
        ("alg_none_empty_sig", unsupported("\"none\"")),
        ("alg_None_empty_sig", unsupported("\"None\"")),
        ("alg_NONE_empty_sig", unsupported("\"NONE\"")),
        ("alg_nOnE_empty_sig", unsupported("\"nOnE\"")),
        // The echoed alg is quoted (Debug form) inside the error.
        ("alg_none_with_sig", unsupported("\"none\"")),
        ("alg_None_with_sig", unsupported("\"None\"")),
        ("alg_NONE_with_sig", unsupported("\"NONE\"")),
        ("alg_nOnE_with_sig", unsupported("\"nOnE\"")),
        ("alg_HS512_signed_HS512", unsupported("\"HS512\"")),
        ("alg_HS384_signed_HS384", unsupported("\"HS384\"")),
        ("alg_HS512_header_HS256_sig", unsupported("\"HS512\"")),
        ("alg_RS256_hmac_sig", unsupported("\"RS256\"")),
        ("alg_lowercase_hs256", unsupported("\"hs256\"")),
        ("alg_trailing_space", unsupported("\"HS256 \"")),
        ("alg_missing", Expect::Is(Error::MissingAlgorithm)),
        (
            "alg_not_string_array",
            unsupported("(an array instead of a string)"),
        ),
        (
            "alg_not_string_number",
            unsupported("(a number instead of a string)"),
        ),
        ("alg_null", unsupported("(null instead of a string)")),
        ("header_not_json", Expect::JsonIn(Header)),
        ("header_json_array", Expect::Is(Error::NotAnObject(Header))),
        ("payload_not_json", Expect::JsonIn(Payload)),
        ("payload_json_array", Expect::Is(Error::NotAnObject(Payload))),
        ("payload_json_string", Expect::Is(Error::NotAnObject(Payload))),
        // A byte order mark is not JSON whitespace: "not JSON", not "not an object".
        ("header_utf8_bom", Expect::JsonIn(Header)),
        ("payload_utf8_bom", Expect::JsonIn(Payload)),
        ("header_invalid_utf8", Expect::JsonIn(Header)),
        ("four_segments", Expect::Is(Error::SegmentCount { found: 4 })),
        ("two_segments", Expect::Is(Error::SegmentCount { found: 2 })),
        (
            "five_segments_jwe_like",
            Expect::Is(Error::SegmentCount { found: 5 }),
        ),
        ("empty_string", Expect::Is(Error::SegmentCount { found: 1 })),
        ("only_dots", Expect::Is(Error::EmptySegment(Header))),
        // The signature (43 characters) is decoded before the payload, so in
        // `segments_with_padding` its '=' is found first.
        ("sig_with_padding", invalid_byte(Signature, 43, b'=')),
        ("segments_with_padding", invalid_byte(Signature, 43, b'=')),
        ("sig_standard_alphabet", invalid_byte(Signature, 16, b'+')),
        // Signed over the '/' text, so only strict base64url can catch it.
        ("payload_standard_alphabet", invalid_byte(Payload, 79, b'/')),
        (
            "sig_noncanonical_trailing_bits",
            base64_error(Signature, DecodeError::NonZeroTrailingBits),
        ),
        (
            "sig_truncated_31_bytes",
            Expect::Is(Error::SignatureLength { len: 31 }),
        ),
        ("sig_33_bytes", Expect::Is(Error::SignatureLength { len: 33 })),
        ("sig_empty_hs256", Expect::Is(Error::EmptySegment(Signature))),
        ("sig_wrong_key", Expect::Is(Error::InvalidSignature)),
        ("sig_empty_key", Expect::Is(Error::InvalidSignature)),
        (
            "payload_bitflip_sig_of_original",
            Expect::Is(Error::InvalidSignature),
        ),
        ("whitespace_inside_signature", invalid_byte(Signature, 20, b' ')),
        // Whitespace in the payload segment, under the signature of the token
        // without it: the payload is not decoded before the signature is
        // proven, and the signing input differs, so the signature fails.
        ("whitespace_around_dot", Expect::Is(Error::InvalidSignature)),
        ("newline_inside_payload", Expect::Is(Error::InvalidSignature)),
        ("leading_space", invalid_byte(Header, 0, b' ')),
        ("trailing_newline", invalid_byte(Signature, 43, b'\n')),
        ("trailing_space", invalid_byte(Signature, 43, b' ')),
        ("crit_unknown_exp", Expect::Is(Error::CriticalHeader)),
        ("crit_empty_list", Expect::Is(Error::CriticalHeader)),
        ("crit_b64_false", Expect::Is(Error::CriticalHeader)),
        // jwk, jku, x5u and kid are never read: the configured key decides.
        (
            "header_jwk_embedded_attacker_key",
            Expect::Is(Error::InvalidSignature),
        ),
        ("header_jku_attacker_key", Expect::Is(Error::InvalidSignature)),
        ("header_x5u_attacker_key", Expect::Is(Error::InvalidSignature)),
        (
            "kid_path_traversal_empty_key",
            Expect::Is(Error::InvalidSignature),
        ),
        ("exp_string", invalid_claim("exp", NOT_A_DATE)),
        (
            "exp_float_1e300",
            Expect::Is(Error::InvalidClaim {
                name: "exp",
                reason: "is out of range for a date",
            }),
        ),
        (
            "exp_negative",
            Expect::Matches(
                "Expired at -1",
                |e| matches!(e, Error::Expired { exp: -1, now, leeway: 0 } if real_now(*now)),
            ),
        ),
        (
            "exp_zero",
            Expect::Matches(
                "Expired at 0",
                |e| matches!(e, Error::Expired { exp: 0, now, leeway: 0 } if real_now(*now)),
            ),
        ),
        ("exp_boolean", invalid_claim("exp", NOT_A_DATE)),
        ("exp_missing", Expect::Is(Error::MissingClaim("exp".to_owned()))),
        (
            "exp_past",
            Expect::Matches(
                "Expired at 1700000000",
                |e| matches!(e, Error::Expired { exp: 1_700_000_000, now, leeway: 0 } if real_now(*now)),
            ),
        ),
        (
            "nbf_future",
            Expect::Matches(
                "NotYetValid before 4000000000",
                |e| matches!(e, Error::NotYetValid { nbf: 4_000_000_000, now, leeway: 0 } if real_now(*now)),
            ),
        ),
        (
            "iat_far_future",
            Expect::Matches(
                "IssuedInFuture at 4000000000",
                |e| matches!(e, Error::IssuedInFuture { iat: 4_000_000_000, now, leeway: 0 } if real_now(*now)),
            ),
        ),
        ("dup_exp_first_valid_second_expired", duplicate("exp")),
        ("dup_exp_first_expired_second_valid", duplicate("exp")),
        ("dup_sub", duplicate("sub")),
        (
            "overlong_token_1mb",
            Expect::Is(Error::TooLong {
                len: 1_398_260,
                max: 8 * 1024,
            }),
        ),
    ]
}

/// Checks one case against its table row; panics with the case name on a mismatch.
fn check(key: &Hs256Key, case: &Case, expect: &Expect) {
    let name = &case.name;
    let verdict = if expect.accepts() { "accept" } else { "reject" };
    assert_eq!(case.expected, verdict, "{name}: the table and the file disagree");
    let got = decode::<Value>(key, &case.token, &Validation::default());
    if let Err(mismatch) = expect.check(&got) {
        panic!("{name}: {mismatch}");
    }
}

/// Runs the named case of the file and returns its requirement (MUST, SHOULD, …).
fn run_case(name: &str) -> String {
    let file = load();
    let case = file
        .cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name:?} in the file"));
    let table = table();
    let (_, expect) = table
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no table row for {name:?}"));
    check(&file.key, case, expect);
    case.requirement.clone()
}

#[test]
fn every_case_gets_its_verdict_and_error() {
    let file = load();
    let table = table();
    let mut accepted = 0;
    let mut rejected = 0;
    for case in &file.cases {
        let (_, expect) = table
            .iter()
            .find(|(name, _)| *name == case.name)
            .unwrap_or_else(|| panic!("case {:?} has no row in the table", case.name));
        check(&file.key, case, expect);
        match case.expected.as_str() {
            "accept" => accepted += 1,
            "reject" => rejected += 1,
            other => panic!("{}: unknown verdict {other:?}", case.name),
        }
    }
    assert_eq!((file.cases.len(), rejected, accepted), (70, 68, 2));
}

#[test]
fn table_and_file_name_the_same_cases() {
    let file = load();
    let in_file: Vec<&str> = file.cases.iter().map(|c| c.name.as_str()).collect();
    let unique: BTreeSet<&str> = in_file.iter().copied().collect();
    assert_eq!(unique.len(), in_file.len(), "duplicate case names in the file");
    let table = table();
    let in_table: BTreeSet<&str> = table.iter().map(|(name, _)| *name).collect();
    assert_eq!(in_table.len(), table.len(), "duplicate rows in the table");
    assert_eq!(unique, in_table);
}

/// Cases whose signature is genuine HMAC-SHA256 under the verifier's own key:
/// they are refused for what they say, not for how they are signed.
#[test]
fn genuinely_signed_cases_are_refused_for_their_content() {
    let file = load();
    let genuine = [
        "alg_none_with_sig",
        "alg_None_with_sig",
        "alg_NONE_with_sig",
        "alg_nOnE_with_sig",
        "alg_HS512_header_HS256_sig",
        "alg_RS256_hmac_sig",
        "alg_lowercase_hs256",
        "alg_missing",
        "header_utf8_bom",
        "payload_not_json",
        "payload_json_array",
        "crit_unknown_exp",
        "crit_b64_false",
        "exp_string",
        "exp_float_1e300",
        "exp_missing",
        "nbf_future",
        "iat_far_future",
        "dup_exp_first_valid_second_expired",
        "dup_exp_first_expired_second_valid",
        "dup_sub",
    ];
    for name in genuine {
        let case = file.cases.iter().find(|c| c.name == name).expect(name);
        assert_eq!(case.expected, "reject", "{name}");
        let (input, signature) = case.token.rsplit_once('.').unwrap();
        let signature = base64url::decode(signature).expect(name);
        assert!(
            file.key.verify(input.as_bytes(), &signature),
            "{name}: signature not genuine"
        );
        assert!(
            decode::<Value>(&file.key, &case.token, &Validation::default()).is_err(),
            "{name}"
        );
    }
    // And the ones signed with another key really are not ours.
    for name in [
        "sig_wrong_key",
        "sig_empty_key",
        "header_jwk_embedded_attacker_key",
    ] {
        let case = file.cases.iter().find(|c| c.name == name).expect(name);
        let (input, signature) = case.token.rsplit_once('.').unwrap();
        let signature = base64url::decode(signature).expect(name);
        assert_eq!(signature.len(), 32, "{name}");
        assert!(!file.key.verify(input.as_bytes(), &signature), "{name}");
    }
}

/// The two duplicate-`exp` cases are one token each way round: whichever value a
/// first-wins or last-wins reader would take, minijwt refuses the token.
#[test]
fn dup_exp_cases_hold_both_orders() {
    let file = load();
    let payload = |name: &str| {
        let case = file.cases.iter().find(|c| c.name == name).unwrap();
        let payload_b64 = case.token.split('.').nth(1).unwrap();
        String::from_utf8(base64url::decode(payload_b64).unwrap()).unwrap()
    };
    let valid_then_expired = payload("dup_exp_first_valid_second_expired");
    let expired_then_valid = payload("dup_exp_first_expired_second_valid");
    assert_eq!(valid_then_expired.matches("\"exp\"").count(), 2);
    assert!(valid_then_expired.find("4102444800") < valid_then_expired.find("\"exp\":1}"));
    assert_eq!(expired_then_valid.matches("\"exp\"").count(), 2);
    assert!(expired_then_valid.find("\"exp\":1,") < expired_then_valid.find("4102444800"));
}

// ---------------------------------------------------------------------------
// The SHOULD cases, each named after the decision taken.
// ---------------------------------------------------------------------------

/// Every SHOULD case of the file has a named test below.
#[test]
fn every_should_case_has_a_named_decision() {
    let named: BTreeSet<&str> = SHOULD_CASES.iter().copied().collect();
    let file = load();
    let in_file: BTreeSet<&str> = file
        .cases
        .iter()
        .filter(|c| c.requirement == "SHOULD")
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(in_file, named);
}

const SHOULD_CASES: [&str; 13] = [
    "header_utf8_bom",
    "payload_utf8_bom",
    "sig_with_padding",
    "segments_with_padding",
    "sig_standard_alphabet",
    "payload_standard_alphabet",
    "sig_noncanonical_trailing_bits",
    "crit_empty_list",
    "exp_float_1e300",
    "iat_far_future",
    "dup_exp_first_expired_second_valid",
    "dup_sub",
    "overlong_token_1mb",
];

fn should_case(name: &str) {
    assert!(
        SHOULD_CASES.contains(&name),
        "{name} is not listed as SHOULD here"
    );
    assert_eq!(run_case(name), "SHOULD", "{name}");
}

#[test]
fn should_case_header_utf8_bom_rejected_as_not_json() {
    should_case("header_utf8_bom");
}

#[test]
fn should_case_payload_utf8_bom_rejected_as_not_json() {
    should_case("payload_utf8_bom");
}

#[test]
fn should_case_sig_with_padding_rejected_base64url_is_unpadded() {
    should_case("sig_with_padding");
}

#[test]
fn should_case_segments_with_padding_rejected_even_when_signed_padded() {
    should_case("segments_with_padding");
}

#[test]
fn should_case_sig_standard_alphabet_rejected_not_base64url() {
    should_case("sig_standard_alphabet");
}

#[test]
fn should_case_payload_standard_alphabet_rejected_even_when_signed_so() {
    should_case("payload_standard_alphabet");
}

#[test]
fn should_case_sig_noncanonical_trailing_bits_rejected_one_spelling_per_signature() {
    should_case("sig_noncanonical_trailing_bits");
}

#[test]
fn should_case_crit_empty_list_rejected_any_crit_is_refused() {
    should_case("crit_empty_list");
}

#[test]
fn should_case_exp_float_1e300_rejected_out_of_date_range() {
    should_case("exp_float_1e300");
}

#[test]
fn should_case_iat_far_future_rejected_issued_in_future() {
    should_case("iat_far_future");
}

#[test]
fn should_case_dup_exp_expired_then_valid_rejected_not_last_wins() {
    should_case("dup_exp_first_expired_second_valid");
}

#[test]
fn should_case_dup_sub_rejected_not_last_wins() {
    should_case("dup_sub");
}

#[test]
fn should_case_overlong_token_1mb_rejected_by_size_before_decoding() {
    should_case("overlong_token_1mb");
}

/// The 1 MB token is refused only for its size: with the limit lifted it is a
/// genuine token that verifies (so TooLong is not hiding another error).
#[test]
fn overlong_token_is_genuine_apart_from_its_size() {
    let file = load();
    let case = file
        .cases
        .iter()
        .find(|c| c.name == "overlong_token_1mb")
        .unwrap();
    assert_eq!(case.token.len(), 1_398_260);
    let unlimited = Validation::default().with_max_token_len(usize::MAX);
    let claims: Value = decode(&file.key, &case.token, &unlimited).unwrap();
    assert_eq!(claims["exp"], json!(4_102_444_800i64));
    let just_enough = Validation::default().with_max_token_len(case.token.len());
    assert!(decode::<Value>(&file.key, &case.token, &just_enough).is_ok());
    let one_short = Validation::default().with_max_token_len(case.token.len() - 1);
    assert_eq!(
        decode::<Value>(&file.key, &case.token, &one_short).unwrap_err(),
        Error::TooLong {
            len: case.token.len(),
            max: case.token.len() - 1
        }
    );
}

/// `exp_missing` is a MUST under the file's policy (exp required), which is
/// minijwt's default; only `dangerous_skip_exp_check` lets it through.
#[test]
fn exp_missing_is_accepted_only_with_the_exp_check_turned_off() {
    assert!(run_case("exp_missing").starts_with("MUST"));
    let file = load();
    let case = file.cases.iter().find(|c| c.name == "exp_missing").unwrap();
    let lax = Validation::default().dangerous_skip_exp_check();
    let claims: Value = decode(&file.key, &case.token, &lax).unwrap();
    assert!(claims.get("exp").is_none());
}
