//! The claims checks, reached directly: the input is the *payload*, signed
//! here under the default header, so no input is lost to the signature.
//!
//! Two input modes:
//! - any bytes not starting with 0x00: the payload JSON bytes themselves;
//! - 0x00 then bytes that drive a generator of claims sets made of the
//!   registered claims with boundary values (dates around the clock, out of
//!   range numbers, wrong types), sometimes with a duplicated member.
//!
//! Each payload is decoded under several `Validation`s and compared with a
//! small reference verifier written here from the documented rules, applied
//! to serde_json's own reading of the payload:
//! - accepted by `decode` => accepted by the reference;
//! - accepted by the reference but refused by `decode` => only because of a
//!   duplicate member (which serde_json silently resolves, last one wins);
//! - accepted => the claims survive `encode` then `decode` unchanged;
//! - accepted => no object in the payload has a member twice (checked by an
//!   independent detector in `common.rs`);
//! - the claims type changes nothing but the last step: decoding into a typed
//!   struct (with `flatten`), one that drops its errors, or `IgnoredAny`
//!   succeeds exactly when decoding into `serde_json::Value` does and
//!   serde_json alone can read that type from the payload, and then gives
//!   exactly what serde_json gives;
//! - the strict scan and serde_json agree on what JSON is: a payload
//!   serde_json cannot read is refused as not JSON (or for a duplicate met
//!   before the syntax error), and one the scan lets through is always
//!   readable as a `serde_json::Value` (never an `Error::Claims`).

#![no_main]

use libfuzzer_sys::arbitrary::{Result as ArbResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use minijwt::{Error, Segment, Validation, DEFAULT_MAX_TOKEN_LEN, MAX_NUMERIC_DATE};
use serde_json::{json, Map, Value};

#[path = "common.rs"]
mod common;

use common::{assert_round_trip, forge, has_duplicate_member, KEY, NOW};

/// A claims type as an application would write one: typed registered claims,
/// the rest gathered by `flatten` (which makes serde buffer the members).
#[derive(serde::Deserialize, Debug, PartialEq)]
struct Typed {
    exp: Option<f64>,
    nbf: Option<serde_json::Number>,
    iss: Option<String>,
    aud: Option<Value>,
    jti: Option<Box<str>>,
    kind: Option<Vec<Kind>>,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

/// A claims type that swallows its own errors, field by field: serde_json
/// has consumed a value (or a nested object's end) by the time the error is
/// dropped. `decode` must still judge the payload exactly as for `Value`.
#[derive(serde::Deserialize, Debug, PartialEq)]
struct Lenient {
    #[serde(default, deserialize_with = "lenient")]
    exp: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    nbf: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    iat: Option<Vec<u8>>,
    #[serde(default, deserialize_with = "lenient")]
    iss: Option<u64>,
    #[serde(default, deserialize_with = "lenient")]
    aud: Option<Map<String, Value>>,
    #[serde(default, deserialize_with = "lenient")]
    sub: Option<std::collections::HashMap<String, String>>,
}

fn lenient<'de, D: serde::Deserializer<'de>, X: serde::Deserialize<'de>>(
    d: D,
) -> Result<Option<X>, D::Error> {
    Ok(X::deserialize(d).ok())
}

/// An externally tagged enum: serde_json reads it through `visit_enum`.
#[derive(serde::Deserialize, Debug, PartialEq)]
enum Kind {
    A,
    B(Value),
    C { x: Value },
    D(i64, Value),
}

/// One set of verifier options, readable both by `Validation` and by the reference.
struct Policy {
    now: i64,
    leeway: u64,
    check_exp: bool,
    issuers: Option<&'static [&'static str]>,
    audiences: Option<&'static [&'static str]>,
    subject: Option<&'static str>,
    required: &'static [&'static str],
}

const POLICIES: [Policy; 4] = [
    // The default, as a resource server would use it.
    Policy {
        now: NOW,
        leeway: 0,
        check_exp: true,
        issuers: None,
        audiences: None,
        subject: None,
        required: &[],
    },
    // Issuer, audiences and a minute of leeway.
    Policy {
        now: NOW,
        leeway: 60,
        check_exp: true,
        issuers: Some(&["minijwt", "other-issuer"]),
        audiences: Some(&["api", "web"]),
        subject: None,
        required: &[],
    },
    // Refresh-style: expired tokens pass, everything else still checked.
    Policy {
        now: NOW,
        leeway: 0,
        check_exp: false,
        issuers: None,
        audiences: None,
        subject: Some("42"),
        required: &["jti"],
    },
    // Extreme clock and leeway: the i128 arithmetic must neither overflow nor lie.
    Policy {
        now: i64::MAX,
        leeway: u64::MAX,
        check_exp: true,
        issuers: None,
        audiences: None,
        subject: None,
        required: &[],
    },
];

impl Policy {
    fn validation(&self) -> Validation {
        let mut v = Validation::default().at_time(self.now).with_leeway(self.leeway);
        if !self.check_exp {
            v = v.dangerous_skip_exp_check();
        }
        for iss in self.issuers.into_iter().flatten() {
            v = v.with_issuer(*iss);
        }
        for aud in self.audiences.into_iter().flatten() {
            v = v.with_audience(*aud);
        }
        if let Some(sub) = self.subject {
            v = v.with_subject(sub);
        }
        for name in self.required {
            v = v.require(*name);
        }
        v
    }

    /// The reference verdict on claims as serde_json reads them.
    fn accepts(&self, claims: &Value) -> bool {
        let Value::Object(map) = claims else {
            return false;
        };
        let (Ok(exp), Ok(nbf), Ok(iat)) = (
            date(map, "exp", f64::floor),
            date(map, "nbf", f64::ceil),
            date(map, "iat", f64::ceil),
        ) else {
            return false;
        };
        let is_string = |name| map.get(name).is_none_or(Value::is_string);
        if !is_string("iss") || !is_string("sub") {
            return false;
        }
        let aud: Option<Vec<&str>> = match map.get("aud") {
            None => None,
            Some(Value::String(s)) => Some(vec![s.as_str()]),
            Some(Value::Array(items)) => match items.iter().map(Value::as_str).collect() {
                Some(all) => Some(all),
                None => return false,
            },
            Some(_) => return false,
        };

        let mut required: Vec<&str> = self.required.to_vec();
        required.extend(self.check_exp.then_some("exp"));
        required.extend(self.issuers.map(|_| "iss"));
        required.extend(self.subject.map(|_| "sub"));
        required.extend(self.audiences.map(|_| "aud"));
        if !required.iter().all(|name| map.contains_key(*name)) {
            return false;
        }

        let (now, leeway) = (i128::from(self.now), i128::from(self.leeway));
        if self.check_exp && exp.is_some_and(|exp| exp <= now - leeway) {
            return false;
        }
        if nbf.is_some_and(|nbf| nbf > now + leeway) || iat.is_some_and(|iat| iat > now + leeway) {
            return false;
        }
        if let (Some(issuers), Some(iss)) = (self.issuers, map.get("iss").and_then(Value::as_str)) {
            if !issuers.contains(&iss) {
                return false;
            }
        }
        if let (Some(subject), Some(sub)) = (self.subject, map.get("sub").and_then(Value::as_str)) {
            if subject != sub {
                return false;
            }
        }
        match (self.audiences, aud) {
            (Some(expected), Some(aud)) => aud.iter().any(|a| expected.contains(a)),
            (None, Some(_)) => false,
            (_, None) => true,
        }
    }
}

/// A NumericDate as the documented rules read it: `Err` if malformed.
fn date(map: &Map<String, Value>, name: &str, round: fn(f64) -> f64) -> Result<Option<i128>, ()> {
    let Some(value) = map.get(name) else {
        return Ok(None);
    };
    let Value::Number(n) = value else {
        return Err(());
    };
    if let Some(i) = n.as_i64() {
        return if i.unsigned_abs() <= MAX_NUMERIC_DATE as u64 {
            Ok(Some(i128::from(i)))
        } else {
            Err(())
        };
    }
    if n.is_u64() {
        return Err(()); // beyond i64, so beyond any date
    }
    let f = n.as_f64().ok_or(())?;
    if f.is_finite() && f.abs() <= MAX_NUMERIC_DATE as f64 {
        Ok(Some(round(f) as i128))
    } else {
        Err(())
    }
}

/// A claims set built from the fuzzer's bytes: registered claims with values
/// chosen to sit on the checks' boundaries.
fn generate(u: &mut Unstructured<'_>) -> ArbResult<Vec<u8>> {
    let mut map = Map::new();
    for name in ["exp", "nbf", "iat", "iss", "sub", "aud", "jti", "x"] {
        if u.arbitrary()? {
            map.insert(name.to_owned(), value(u, 0)?);
        }
    }
    if u.arbitrary()? {
        let n = u.int_in_range(0..=3)?;
        let kinds: ArbResult<Vec<Value>> = (0..n).map(|_| kind(u)).collect();
        map.insert("kind".to_owned(), Value::Array(kinds?));
    }
    let mut json = serde_json::to_vec(&Value::Object(map)).expect("a Value serializes");
    // Sometimes repeat a registered member: the strict pass must refuse it.
    if u.ratio(1, 8)? {
        let name = *u.choose(&["exp", "aud", "iss", "nbf"])?;
        let extra = format!(r#""{name}":{}"#, value(u, 0)?);
        json.pop(); // '}'
        if json.len() > 1 {
            json.push(b',');
        }
        json.extend_from_slice(extra.as_bytes());
        json.push(b'}');
    }
    Ok(json)
}

/// A `Kind` as JSON, or something close to one.
fn kind(u: &mut Unstructured<'_>) -> ArbResult<Value> {
    Ok(match u.int_in_range(0..=5)? {
        0 => json!("A"),
        1 => json!({ "B": value(u, 1)? }),
        2 => json!({ "C": { "x": value(u, 1)? } }),
        3 => json!({ "D": [u.arbitrary::<i64>()?, value(u, 1)?] }),
        4 => json!({ "A": null }),
        _ => value(u, 1)?,
    })
}

fn value(u: &mut Unstructured<'_>, depth: u32) -> ArbResult<Value> {
    const STRINGS: [&str; 6] = ["minijwt", "api", "web", "42", "", "other-issuer"];
    Ok(match u.int_in_range(0..=12)? {
        0 => json!(NOW + i64::from(u.int_in_range(-120i16..=120)?)),
        1 => json!(u.arbitrary::<i64>()?),
        2 => json!(NOW as f64 + f64::from(u.int_in_range(-40i8..=40)?) / 4.0),
        3 => json!(u.arbitrary::<f64>()?), // NaN and infinities become null
        4 => json!(*u.choose(&STRINGS)?),
        5 => {
            let n = u.int_in_range(0..=3)?;
            let items: ArbResult<Vec<&str>> = (0..n).map(|_| u.choose(&STRINGS).copied()).collect();
            json!(items?)
        }
        6 if depth < 3 => json!([value(u, depth + 1)?, value(u, depth + 1)?]),
        7 => json!(null),
        8 => json!(u.arbitrary::<bool>()?),
        9 if depth < 3 => json!({ "a": value(u, depth + 1)?, "b": value(u, depth + 1)? }),
        10 => json!(u.arbitrary::<u64>()? | 1 << 63),
        11 => json!(*u.choose(&[i64::MIN, i64::MIN + 1, i64::MAX, -1, 0])?),
        _ => json!(MAX_NUMERIC_DATE * *u.choose(&[-1i64, 1])? + i64::from(u.int_in_range(-1i8..=1)?)),
    })
}

fuzz_target!(|data: &[u8]| {
    let payload = match data.split_first() {
        Some((0, rest)) => match generate(&mut Unstructured::new(rest)) {
            Ok(json) => json,
            Err(_) => return,
        },
        _ => data.to_vec(),
    };
    let token = forge(br#"{"alg":"HS256","typ":"JWT"}"#, &payload);
    let reference: Option<Value> = serde_json::from_slice(&payload).ok();
    // What serde_json alone builds: what `decode` must build, when it accepts.
    let typed_reads = serde_json::from_slice::<Typed>(&payload).ok();
    let lenient_reads = serde_json::from_slice::<Lenient>(&payload).ok();

    for policy in &POLICIES {
        let validation = policy.validation();
        let result = minijwt::decode::<Value>(&KEY, &token, &validation);
        if token.len() > DEFAULT_MAX_TOKEN_LEN {
            assert!(matches!(result, Err(Error::TooLong { .. })), "{result:?}");
            continue;
        }
        let expected = reference.as_ref().is_some_and(|claims| policy.accepts(claims));

        let typed = minijwt::decode::<Typed>(&KEY, &token, &validation);
        let ignored = minijwt::decode::<serde::de::IgnoredAny>(&KEY, &token, &validation);
        let lenient = minijwt::decode::<Lenient>(&KEY, &token, &validation);
        match &result {
            // Refused: the same first failure, however T treats its errors.
            Err(e) => assert_eq!(lenient.as_ref().err(), Some(e), "Lenient: {lenient:?}"),
            // Accepted: T is then built exactly as serde_json alone builds it.
            Ok(_) => assert_eq!(lenient.as_ref().ok(), lenient_reads.as_ref(), "Lenient: {lenient:?}"),
        }
        assert_eq!(
            ignored.is_ok(),
            result.is_ok(),
            "IgnoredAny: {ignored:?}, Value: {result:?}"
        );
        if result.is_ok() {
            assert_eq!(typed.as_ref().ok(), typed_reads.as_ref(), "Typed: {typed:?}");
        } else {
            assert!(typed.is_err(), "Typed: {typed:?}, Value: {result:?}");
        }
        if let Err(e) = &result {
            // Whatever the claims type, the same first failure.
            assert_eq!(ignored.as_ref().err(), Some(e));
            assert_eq!(typed.as_ref().err(), Some(e));
        }

        if reference.is_none() && !payload.is_empty() {
            // Not JSON to serde_json: refused as not JSON, for a duplicate met
            // before the syntax error, or as no object when serde_json reads
            // some value there (IgnoredAny skips what Value checks).
            let some_value = serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_ok();
            assert!(
                matches!(
                    result,
                    Err(Error::Json {
                        segment: Segment::Payload,
                        ..
                    } | Error::DuplicateMember { .. })
                ) || (some_value && matches!(result, Err(Error::NotAnObject(Segment::Payload)))),
                "serde_json cannot read it, yet: {result:?}"
            );
        }

        match result {
            Err(Error::Claims(message)) => {
                panic!("the scan let through what serde_json cannot read: {message}")
            }
            Ok(claims) => {
                assert!(expected, "accepted, but the reference refuses: {claims}");
                assert_eq!(Some(&claims), reference.as_ref());
                assert_eq!(
                    has_duplicate_member(&payload),
                    Some(false),
                    "accepted a repeated member"
                );
                assert_round_trip(&claims, &validation);
            }
            Err(Error::DuplicateMember { .. }) => {}
            Err(e) => assert!(
                !expected,
                "refused ({e}), but the reference accepts: {}",
                String::from_utf8_lossy(&payload)
            ),
        }
    }
});
