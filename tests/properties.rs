//! Property tests: round-trips, tamper resistance, no panics, and strict
//! base64url checked against the `base64` crate. Case counts are kept small
//! enough for the file to run in a few seconds in a debug build.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use minijwt::{base64url, dangerous, decode, encode, Error, Hs256Key, Validation, MAX_NUMERIC_DATE};
use proptest::prelude::*;
use proptest::strategy::ValueTree as _;
use serde_json::{Map, Number, Value};

const NOW: i64 = 1_800_000_000;
const SECRET: &[u8; 32] = b"property-tests-secret-0123456789";
const REGISTERED: [&str; 6] = ["exp", "nbf", "iat", "iss", "sub", "aud"];

fn key() -> Hs256Key {
    Hs256Key::new(SECRET).unwrap()
}

fn at_now() -> Validation {
    Validation::default().at_time(NOW)
}

/// Signs `header.payload` built from raw bytes.
fn forge(header: &[u8], payload: &[u8]) -> String {
    let input = format!("{}.{}", base64url::encode(header), base64url::encode(payload));
    format!("{input}.{}", base64url::encode(&key().sign(input.as_bytes())))
}

/// JSON leaves: null, booleans, integers, finite floats, and strings from `text`.
fn json_leaf(text: impl Strategy<Value = String> + 'static) -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter_map("finite", Number::from_f64)
            .prop_map(Value::Number),
        text.prop_map(Value::String),
    ]
    .boxed()
}

/// Any JSON value: finite numbers, any strings (control characters and all),
/// nested arrays and objects with unique member names.
fn json_value() -> impl Strategy<Value = Value> {
    json_leaf(any::<String>()).prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(any::<String>(), inner, 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
}

/// A claims object: `members` (none named like a registered claim, so their
/// types cannot trip the claims checks) plus a valid `exp`, and sometimes a
/// valid `iss`, `sub`, `nbf` and `iat`.
fn claims_with(
    names: impl Strategy<Value = String> + 'static,
    values: impl Strategy<Value = Value> + 'static,
    members: std::ops::Range<usize>,
) -> impl Strategy<Value = Value> {
    (
        prop::collection::btree_map(
            names.prop_filter("not registered", |k| !REGISTERED.contains(&k.as_str())),
            values,
            members,
        ),
        NOW + 1..=MAX_NUMERIC_DATE,
        prop::option::of(any::<String>()),
        prop::option::of(any::<String>()),
        prop::option::of(-MAX_NUMERIC_DATE..=NOW),
    )
        .prop_map(|(members, exp, iss, sub, past)| {
            let mut object: Map<String, Value> = members.into_iter().collect();
            object.insert("exp".into(), exp.into());
            if let Some(iss) = iss {
                object.insert("iss".into(), iss.into());
            }
            if let Some(sub) = sub {
                object.insert("sub".into(), sub.into());
            }
            if let Some(past) = past {
                object.insert("nbf".into(), past.into());
                object.insert("iat".into(), past.into());
            }
            Value::Object(object)
        })
}

/// Claims of any shape and size.
fn claims_object() -> impl Strategy<Value = Value> {
    claims_with(any::<String>(), json_value(), 0..8)
}

/// Small claims, for the tests that walk every position of a token.
fn small_claims() -> impl Strategy<Value = Value> {
    claims_with("[a-z]{1,6}", json_leaf("\\PC{0,8}"), 0..4)
}

/// Large claims can exceed the default 8 KiB limit; the size rule is tested elsewhere.
fn at_now_any_size() -> Validation {
    at_now().with_max_token_len(usize::MAX)
}

/// Replacements for the per-byte test: base64url letters, the separator, and
/// characters that are not base64url at all.
const REPLACEMENTS: [char; 16] = [
    'A', 'B', 'Q', 'g', 'z', '0', '9', '-', '_', '.', '=', '+', '/', ' ', '\n', 'é',
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encode_then_decode_round_trips_any_claims(claims in claims_object()) {
        let token = encode(&key(), &claims).unwrap();
        let back: Value = decode(&key(), &token, &at_now_any_size()).unwrap();
        prop_assert_eq!(&back, &claims);
        if token.len() <= minijwt::DEFAULT_MAX_TOKEN_LEN {
            let unverified = dangerous::decode_unverified(&token).unwrap();
            prop_assert_eq!(unverified.claims(), &claims);
        }
    }

    #[test]
    fn decode_never_panics_on_arbitrary_text(text in any::<String>()) {
        prop_assert!(decode::<Value>(&key(), &text, &at_now()).is_err());
        let _ = dangerous::decode_unverified(&text);
    }

    #[test]
    fn decode_never_panics_on_base64url_and_dots(text in "[A-Za-z0-9_.-]{0,200}") {
        prop_assert!(decode::<Value>(&key(), &text, &at_now()).is_err());
        let _ = dangerous::decode_unverified(&text);
    }

    /// Signed tokens reach the claims step, where a panic would hurt most.
    #[test]
    fn decode_never_panics_on_signed_arbitrary_payloads(payload in any::<Vec<u8>>()) {
        let token = forge(br#"{"alg":"HS256"}"#, &payload);
        if let Ok(claims) = decode::<Value>(&key(), &token, &at_now()) {
            prop_assert!(claims.is_object());
        }
    }

    /// The registered time claims, with any integer at all: never a panic, and
    /// accepted exactly when all three are in range and allow `NOW`.
    #[test]
    fn time_claims_follow_the_rules_for_any_integer(
        exp in date_like(),
        nbf in date_like(),
        iat in date_like(),
    ) {
        let payload = format!(r#"{{"exp":{exp},"nbf":{nbf},"iat":{iat}}}"#);
        let token = forge(br#"{"alg":"HS256"}"#, payload.as_bytes());
        let result = decode::<Value>(&key(), &token, &at_now());
        let in_range = |t: i64| (-MAX_NUMERIC_DATE..=MAX_NUMERIC_DATE).contains(&t);
        let valid = [exp, nbf, iat].into_iter().all(in_range) && exp > NOW && nbf <= NOW && iat <= NOW;
        prop_assert_eq!(result.is_ok(), valid, "{} -> {:?}", payload, result);
        if !([exp, nbf, iat].into_iter().all(in_range)) {
            let is_invalid_claim = matches!(result, Err(Error::InvalidClaim { .. }));
            prop_assert!(is_invalid_claim, "{} -> {:?}", payload, result);
        }
    }
}

/// Integers that matter for dates: the extremes, the range limits, and
/// anything near the clock.
fn date_like() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MIN),
        Just(i64::MAX),
        Just(-MAX_NUMERIC_DATE - 1),
        Just(-MAX_NUMERIC_DATE),
        Just(MAX_NUMERIC_DATE),
        Just(MAX_NUMERIC_DATE + 1),
        Just(NOW),
        Just(NOW + 1),
        NOW - 10..NOW + 10,
        any::<i64>(),
    ]
}

proptest! {
    // Each case walks every position of a token itself.
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn every_single_character_change_is_rejected(claims in small_claims()) {
        let token = encode(&key(), &claims).unwrap();
        prop_assert!(decode::<Value>(&key(), &token, &at_now()).is_ok());
        let mut changed = 0;
        for (position, original) in token.char_indices() {
            for replacement in REPLACEMENTS.into_iter().filter(|&c| c != original) {
                let mut tampered = String::with_capacity(token.len() + 1);
                tampered.push_str(&token[..position]);
                tampered.push(replacement);
                tampered.push_str(&token[position + original.len_utf8()..]);
                let result = decode::<Value>(&key(), &tampered, &at_now());
                prop_assert!(result.is_err(), "{:?} at {} accepted: {}", replacement, position, tampered);
                changed += 1;
            }
        }
        prop_assert!(changed >= token.len() * (REPLACEMENTS.len() - 1));
    }

    #[test]
    fn every_truncation_is_rejected(claims in small_claims()) {
        let token = encode(&key(), &claims).unwrap();
        prop_assert!(decode::<Value>(&key(), &token, &at_now()).is_ok());
        for end in (0..token.len()).filter(|&end| token.is_char_boundary(end)) {
            let result = decode::<Value>(&key(), &token[..end], &at_now());
            prop_assert!(result.is_err(), "prefix of {} accepted", end);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn base64url_round_trips_and_matches_the_base64_crate(bytes in any::<Vec<u8>>()) {
        let text = base64url::encode(&bytes);
        prop_assert_eq!(&text, &URL_SAFE_NO_PAD.encode(&bytes));
        prop_assert_eq!(text.len(), base64url::encoded_len(bytes.len()));
        prop_assert_eq!(base64url::decoded_len(text.len()), Some(bytes.len()));
        prop_assert_eq!(base64url::decode(&text).unwrap(), bytes);
    }

    #[test]
    fn base64url_accepts_exactly_the_canonical_strings(text in base64ish()) {
        check_against_base64_crate(&text)?;
    }

    #[test]
    fn base64url_accepts_exactly_the_canonical_strings_of_any_text(text in any::<String>()) {
        check_against_base64_crate(&text)?;
    }
}

/// Short strings over the alphabet and its usual impostors (padding, the
/// standard alphabet, whitespace): many of them valid, many not.
fn base64ish() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,16}",
        "[A-Za-z0-9_=+/ -]{0,16}",
        // Whole groups, then a partial one: often non-zero trailing bits.
        "([A-Za-z0-9_-]{4}){0,3}[A-Za-z0-9_-]{2,3}",
    ]
}

/// Our decode succeeds exactly when the `base64` crate's strict unpadded
/// URL-safe engine decodes the text and re-encoding gives the same text; and
/// then both give the same bytes.
fn check_against_base64_crate(text: &str) -> Result<(), TestCaseError> {
    let ours = base64url::decode(text);
    let canonical = URL_SAFE_NO_PAD
        .decode(text)
        .ok()
        .filter(|bytes| URL_SAFE_NO_PAD.encode(bytes) == text);
    match (ours, canonical) {
        (Ok(ours), Some(theirs)) => prop_assert_eq!(ours, theirs),
        (Err(_), None) => {}
        (ours, theirs) => prop_assert!(false, "{:?}: ours {:?}, base64 crate {:?}", text, ours, theirs),
    }
    Ok(())
}

/// The property tests above would pass vacuously if their strategies never
/// produced valid inputs; these fixed checks pin a few down.
#[test]
fn strategies_reach_both_outcomes() {
    for (text, valid) in [
        ("", true),
        ("Zg", true),
        ("Zh", false),
        ("Zm8=", false),
        ("A", false),
    ] {
        assert_eq!(base64url::decode(text).is_ok(), valid, "{text:?}");
        check_against_base64_crate(text).unwrap();
    }
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut valid, mut invalid) = (0, 0);
    for _ in 0..500 {
        let text = base64ish().new_tree(&mut runner).unwrap().current();
        if base64url::decode(&text).is_ok() {
            valid += 1;
        } else {
            invalid += 1;
        }
    }
    assert!(valid > 50 && invalid > 50, "valid {valid}, invalid {invalid}");
}

/// Claims types of every shape a reader of the payload must build as
/// serde_json does: options, a newtype, unit variants written as strings and
/// as objects, integer map keys, numbers of every width, `flatten`, and the
/// registered claims the checks keep.
#[derive(serde::Deserialize, Debug, PartialEq)]
struct Typed {
    exp: Option<i64>,
    iss: Option<String>,
    sub: Option<Subject>,
    nbf: Option<f64>,
    aud: Option<Value>,
    kind: Option<Kind>,
    small: Option<u8>,
    wide: Option<i128>,
    letter: Option<char>,
    by_number: Option<std::collections::HashMap<u32, Value>>,
    list: Option<Vec<Option<Kind>>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Subject(String);

#[derive(serde::Deserialize, Debug, PartialEq)]
enum Kind {
    A,
    B(Value),
    C { x: u32 },
}

/// A claims type that drops its fields' errors and reads on, as
/// `deserialize_with` helpers may: `decode` must judge the payload as for `Value`.
#[derive(serde::Deserialize, Debug, PartialEq)]
struct Lenient {
    #[serde(default, deserialize_with = "lenient")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    iss: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "lenient")]
    kind: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient")]
    list: Option<(u8, u8)>,
}

fn lenient<'de, D: serde::Deserializer<'de>, X: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<X>, D::Error> {
    Ok(X::deserialize(d).ok())
}

/// Values for the members `Typed` and `Lenient` read: of the right type or not.
fn typed_member() -> impl Strategy<Value = Value> {
    prop_oneof![
        json_value(),
        (0u64..300).prop_map(Value::from),
        "[A-C]".prop_map(Value::from),
        ("[A-C]", json_value()).prop_map(|(variant, value)| serde_json::json!({ variant: value })),
        prop::collection::btree_map("[0-9]{1,3}|x", json_value(), 0..3)
            .prop_map(|members| Value::Object(members.into_iter().collect())),
        prop::collection::vec(
            prop_oneof![Just(Value::Null), "[A-C]".prop_map(Value::from)],
            0..3
        )
        .prop_map(Value::Array),
    ]
}

/// `decode` into any type gives what serde_json gives for the same text,
/// once the strict checks pass; and those checks do not depend on the type.
fn same_as_serde_json<T>(token: &str, payload: &str) -> Result<(), TestCaseError>
where
    T: serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let validation = at_now_any_size().dangerous_skip_exp_check();
    let strict = decode::<serde::de::IgnoredAny>(&key(), token, &validation);
    let ours = decode::<T>(&key(), token, &validation);
    match (strict, serde_json::from_str::<T>(payload)) {
        (Err(error), _) => prop_assert_eq!(ours, Err(error)),
        (Ok(_), Ok(theirs)) => prop_assert_eq!(ours, Ok(theirs)),
        (Ok(_), Err(_)) => prop_assert!(matches!(ours, Err(Error::Claims(_))), "{:?}", ours),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn decode_reads_every_type_as_serde_json_does(
        members in prop::collection::btree_map(
            prop::sample::select(&["exp", "iss", "sub", "nbf", "aud", "kind", "small", "wide",
                "letter", "by_number", "list", "other"][..]),
            typed_member(),
            0..8,
        ),
        spaced in any::<bool>(),
    ) {
        let claims = Value::Object(members.into_iter().map(|(k, v)| (k.to_owned(), v)).collect());
        let payload = match spaced {
            true => serde_json::to_string_pretty(&claims).unwrap(),
            false => claims.to_string(),
        };
        let token = forge(br#"{"alg":"HS256"}"#, payload.as_bytes());
        same_as_serde_json::<Value>(&token, &payload)?;
        same_as_serde_json::<Typed>(&token, &payload)?;
        same_as_serde_json::<Lenient>(&token, &payload)?;
    }
}

/// Payloads a type that drops its errors could slip past a reading that
/// forgot them: each is judged as for `Value`, whatever the type.
#[test]
fn a_dropped_error_is_not_forgotten() {
    for (payload, strictly_valid) in [
        (r#"{"list": [1 }, "exp": 4102444800}"#, false),
        (r#"{"kind": {"a": 1, "a": 2}, "exp": 4102444800}"#, false),
        (r#"{"iss": "x", "kind": {"b": tru}"#, false),
        (r#"{"list": [1, 2, 3], "exp": 4102444800}"#, true),
    ] {
        let token = forge(br#"{"alg":"HS256"}"#, payload.as_bytes());
        let strict = decode::<serde::de::IgnoredAny>(&key(), &token, &at_now());
        assert_eq!(strict.is_ok(), strictly_valid, "{payload}");
        same_as_serde_json::<Lenient>(&token, payload).unwrap();
    }
}

/// A string type that also takes numbers, booleans, null, arrays and
/// objects, but asks for a string: serde_json refuses the others before this
/// visitor sees them, and so must `decode`.
#[derive(Debug, PartialEq)]
struct AsksForAString(String);

impl<'de> serde::Deserialize<'de> for AsksForAString {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Anything;
        impl<'de> serde::de::Visitor<'de> for Anything {
            type Value = AsksForAString;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
                Ok(AsksForAString(s.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<Self::Value, E> {
                Ok(AsksForAString(n.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<Self::Value, E> {
                Ok(AsksForAString(b.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
                Ok(AsksForAString("null".to_owned()))
            }
        }
        d.deserialize_string(Anything)
    }
}

/// A map visitor that breaks serde's protocol: a value before the first
/// name, then two values per name. Payloads that are not JSON must still
/// be refused as not JSON, never read.
#[derive(Debug, PartialEq)]
struct OutOfTurn(Vec<Value>);

impl<'de> serde::Deserialize<'de> for OutOfTurn {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Values;
        impl<'de> serde::de::Visitor<'de> for Values {
            type Value = OutOfTurn;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<OutOfTurn, A::Error> {
                let mut values: Vec<Value> = map.next_value().into_iter().collect();
                while map.next_key::<String>()?.is_some() {
                    values.push(map.next_value()?);
                    values.extend(map.next_value::<Value>().ok());
                }
                Ok(OutOfTurn(values))
            }
        }
        d.deserialize_map(Values)
    }
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Unusual {
    single: Option<f32>,
    text: Option<AsksForAString>,
    exp: Option<AsksForAString>,
}

/// Cases where a reader of the payload that was the `Deserializer` itself
/// (issue 11's one reading, since withdrawn) differed from serde_json: `f32`
/// rounded twice, a visitor given a value of a kind serde_json refuses first,
/// a map read out of turn. Kept for any reader that replaces serde_json's.
#[test]
fn unusual_types_are_read_as_serde_json_reads_them() {
    for payload in [
        r#"{"single":1.0000000596046448}"#,
        r#"{"single":36893490346442358785}"#,
        r#"{"single":1e39}"#,
        r#"{"single":16777217}"#,
        r#"{"text":"s","exp":"x"}"#,
        r#"{"text":5}"#,
        r#"{"text":true}"#,
        r#"{"text":null}"#,
        r#"{"exp":1700000000}"#,
    ] {
        let token = forge(br#"{"alg":"HS256"}"#, payload.as_bytes());
        same_as_serde_json::<Unusual>(&token, payload).unwrap();
    }
    for payload in [
        r#"{"a" "exp":4102444800}"#,
        r#"{5 "exp":1}"#,
        r#"{"exp":4102444800 1,"nbf":0 {"a":1}}"#,
        r#"{"exp":4102444800,"nbf":0}"#,
    ] {
        let token = forge(br#"{"alg":"HS256"}"#, payload.as_bytes());
        same_as_serde_json::<OutOfTurn>(&token, payload).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The duplicate check's first look (one bit per name) never lets a
    /// repeat by, and its second (pairwise, or sorted past 16 names) never
    /// sees one that is not there: names of one to twenty members, short and
    /// long, many sharing their first seven bytes (one fingerprint), with one
    /// of them written again, sometimes escaped, at any depth.
    #[test]
    fn a_repeated_name_is_found_and_only_then(
        names in prop::collection::btree_set("(long_pre)?[a-c]{1,3}", 1..20),
        repeat in any::<prop::sample::Index>(),
        escape in any::<bool>(),
        nested in any::<bool>(),
    ) {
        let names: Vec<&String> = names.iter().collect();
        let members = names.iter().map(|n| format!("\"{n}\":0")).collect::<Vec<_>>().join(",");
        let wrap = |inner: String| if nested { format!(r#"{{"outer":{inner}}}"#) } else { inner };
        let distinct = wrap(format!("{{{members}}}"));
        prop_assert!(minijwt::jwt::strict_json_object(distinct.as_bytes(), minijwt::Segment::Payload).is_ok());

        let again = repeat.get(&names);
        let spelled = match escape {
            true => format!("\\u{:04x}{}", again.as_bytes()[0], &again[1..]),
            false => again.to_string(),
        };
        let twice = wrap(format!("{{{members},\"{spelled}\":1}}"));
        prop_assert_eq!(
            minijwt::jwt::strict_json_object(twice.as_bytes(), minijwt::Segment::Payload).unwrap_err(),
            Error::DuplicateMember { segment: minijwt::Segment::Payload, name: again.to_string() }
        );
    }
}
