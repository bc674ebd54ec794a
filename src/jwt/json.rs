//! A strict first look at a JSON object: every member name, duplicates refused
//! at every depth, and the values of a few named members kept for checking.
//!
//! serde_json, like most JSON parsers, keeps the *last* of two members with the
//! same name. For a token that is dangerous: `{"exp":4102444800,"exp":1}` means
//! one thing to a first-wins reader and another to a last-wins one. RFC 7519 §4
//! allows rejecting such a claims set, and we do. This pass also reads the
//! registered claims as *what they are* (a number, a string, something else)
//! so that `"exp": "tomorrow"` is an error rather than a missing `exp`.
//!
//! The caller's claims type is deserialized afterwards, from the same bytes, by
//! serde_json: this pass only decides whether those bytes are acceptable.
//! [`decode`](crate::decode) first tries `onepass`, which makes the same checks
//! while deserializing the claims type; this pass then only runs when that one
//! cannot vouch, and gives the exact error.

use std::borrow::Cow;
use std::cell::RefCell;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::error::{echo, Error, Segment};

/// A member value as the checks need to see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value<'a> {
    Null,
    Bool(bool),
    /// A JSON integer that fits `i64`.
    Int(i64),
    /// Any other JSON number: a fraction, an exponent, or an integer beyond `i64`.
    Float(f64),
    Str(Cow<'a, str>),
    Array(Vec<Value<'a>>),
    /// An object (its members were checked for duplicates and dropped).
    Object,
    /// A value we were not asked to keep (it was still checked for duplicates).
    Skipped,
}

impl Value<'_> {
    /// A JSON integer read as `u64`: an `Int` if it fits `i64`, else a `Float`.
    pub(crate) fn from_u64(v: u64) -> Self {
        i64::try_from(v).map_or(Value::Float(v as f64), Value::Int)
    }

    /// The JSON type's name, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object => "an object",
            Value::Skipped => "a value",
        }
    }
}

/// A top-level object: every member name in order, and the values asked for.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    names: Vec<Cow<'a, str>>,
    kept: Vec<(&'static str, Value<'a>)>,
}

impl<'a> Object<'a> {
    /// An object from its member names and kept values (see `onepass`).
    pub(crate) fn new(names: Vec<Cow<'a, str>>, kept: Vec<(&'static str, Value<'a>)>) -> Self {
        Object { names, kept }
    }

    /// The value of member `name`, if it was asked for and is present.
    pub(crate) fn get(&self, name: &str) -> Option<&Value<'a>> {
        self.kept.iter().find(|(n, _)| same(n, name)).map(|(_, v)| v)
    }

    /// Whether the object has a member `name` (asked for or not).
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.names.iter().any(|n| same(n, name))
    }
}

/// Parses `bytes` as one JSON object, refusing duplicate member names at any
/// depth, and keeps the values of the members named in `keep`.
pub(crate) fn parse_object<'a>(
    bytes: &'a [u8],
    segment: Segment,
    keep: &'static [&'static str],
) -> Result<Object<'a>, Error> {
    let first = bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first != Some(&b'{') {
        // Say "not an object" only for what is valid JSON; anything else,
        // including a UTF-8 byte order mark, is "not JSON".
        return Err(match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => Error::NotAnObject(segment),
            Err(e) => json_error(segment, &e),
        });
    }
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = TopLevel {
        keep,
        duplicate: &duplicate,
    }
    .deserialize(&mut de)
    .and_then(|object| de.end().map(|()| object));
    // A duplicate is reported through `duplicate` because serde errors carry
    // only text; it takes precedence over the generic error it caused.
    if let Some(name) = duplicate.into_inner() {
        return Err(Error::DuplicateMember { segment, name });
    }
    parsed.map_err(|e| json_error(segment, &e))
}

/// Parses `bytes` as the verifier reads a header or payload: one JSON object,
/// no member name twice at any depth. Tools use it to take claims from a user
/// without silently dropping a repeated member, as `serde_json` alone would.
///
/// ```
/// use minijwt::{jwt::strict_json_object, Error, Segment};
///
/// let claims = strict_json_object(br#"{"sub":"42"}"#, Segment::Payload).unwrap();
/// assert_eq!(claims["sub"], "42");
/// assert_eq!(
///     strict_json_object(br#"{"sub":"42","sub":"0"}"#, Segment::Payload).unwrap_err(),
///     Error::DuplicateMember { segment: Segment::Payload, name: "sub".into() }
/// );
/// ```
pub fn strict_json_object(bytes: &[u8], segment: Segment) -> Result<serde_json::Value, Error> {
    parse_object(bytes, segment, &[])?;
    serde_json::from_slice(bytes).map_err(|e| json_error(segment, &e))
}

fn json_error(segment: Segment, error: &serde_json::Error) -> Error {
    Error::Json {
        segment,
        message: echo(&error.to_string()),
    }
}

/// `a == b` for the short names of JSON members, compared inline: most
/// claim names are three bytes long, and a call to `memcmp` for each pair
/// costs more than the comparison.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// Where a duplicate member name found deep inside the parse is left for
/// [`parse_object`] to report.
type DuplicateSlot = RefCell<Option<String>>;

/// Checks one object's member names for repeats once all are read.
fn check_unique(names: &[Cow<'_, str>], duplicate: &DuplicateSlot) -> Result<(), String> {
    match first_repeat(names) {
        Some(name) => {
            let name = echo(name);
            *duplicate.borrow_mut() = Some(name.clone());
            Err(name)
        }
        None => Ok(()),
    }
}

/// A member name that occurs more than once in `names`, if any.
pub(crate) fn first_repeat<'n>(names: &'n [Cow<'_, str>]) -> Option<&'n str> {
    if names.len() <= 16 {
        // Small objects, i.e. nearly every real token: a pairwise scan beats sorting.
        names
            .iter()
            .enumerate()
            .find(|(i, name)| names[..*i].iter().any(|earlier| same(earlier, name)))
            .map(|(_, name)| name.as_ref())
    } else {
        let mut sorted: Vec<&str> = names.iter().map(Cow::as_ref).collect();
        sorted.sort_unstable();
        sorted
            .windows(2)
            .find(|pair| pair[0] == pair[1])
            .map(|pair| pair[0])
    }
}

/// Reads a member name, borrowing it from the input when it has no escapes.
struct NameSeed;

impl<'de> DeserializeSeed<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(NameSeed)
    }
}

impl<'de> Visitor<'de> for NameSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
}

/// The top-level object.
struct TopLevel<'s> {
    keep: &'static [&'static str],
    duplicate: &'s DuplicateSlot,
}

impl<'de> DeserializeSeed<'de> for TopLevel<'_> {
    type Value = Object<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopLevel<'_> {
    type Value = Object<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        // One allocation each for a typical claims set.
        let mut names = Vec::with_capacity(8);
        let mut kept = Vec::with_capacity(self.keep.len());
        while let Some(name) = map.next_key_seed(NameSeed)? {
            let wanted = self.keep.iter().find(|k| same(k, &name));
            let value = map.next_value_seed(AnyValue {
                keep: wanted.is_some(),
                duplicate: self.duplicate,
            })?;
            if let Some(wanted) = wanted {
                kept.push((*wanted, value));
            }
            names.push(name);
        }
        check_unique(&names, self.duplicate)
            .map_err(|name| de::Error::custom(format!("duplicate member {name:?}")))?;
        Ok(Object { names, kept })
    }
}

/// Any JSON value below the top level: kept as a [`Value`] or only checked.
#[derive(Clone, Copy)]
struct AnyValue<'s> {
    keep: bool,
    duplicate: &'s DuplicateSlot,
}

impl<'de> DeserializeSeed<'de> for AnyValue<'_> {
    type Value = Value<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyValue<'_> {
    type Value = Value<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Value::Null)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Value::from_u64(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(if self.keep {
            Value::Str(Cow::Borrowed(v))
        } else {
            Value::Skipped
        })
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(if self.keep {
            Value::Str(Cow::Owned(v.to_owned()))
        } else {
            Value::Skipped
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if self.keep {
            let mut items = Vec::new();
            while let Some(item) = seq.next_element_seed(self)? {
                items.push(item);
            }
            Ok(Value::Array(items))
        } else {
            while seq.next_element_seed(self)?.is_some() {}
            Ok(Value::Skipped)
        }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let inner = AnyValue {
            keep: false,
            duplicate: self.duplicate,
        };
        let mut names = Vec::new();
        while let Some(name) = map.next_key_seed(NameSeed)? {
            map.next_value_seed(inner)?;
            names.push(name);
        }
        check_unique(&names, self.duplicate)
            .map_err(|name| de::Error::custom(format!("duplicate member {name:?}")))?;
        Ok(Value::Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Object<'_>, Error> {
        parse_object(json.as_bytes(), Segment::Payload, &["exp", "aud"])
    }

    #[test]
    fn keeps_asked_members_and_names_all() {
        let object = parse(r#"{"exp": 10, "sub": "a", "aud": ["x", "y"]}"#).unwrap();
        assert_eq!(object.get("exp"), Some(&Value::Int(10)));
        assert_eq!(object.get("sub"), None);
        assert!(object.contains("sub"));
        assert_eq!(
            object.get("aud"),
            Some(&Value::Array(vec![
                Value::Str("x".into()),
                Value::Str("y".into())
            ]))
        );
    }

    #[test]
    fn numbers_keep_their_kind() {
        assert_eq!(parse(r#"{"exp": -1}"#).unwrap().get("exp"), Some(&Value::Int(-1)));
        assert_eq!(
            parse(r#"{"exp": 1.5}"#).unwrap().get("exp"),
            Some(&Value::Float(1.5))
        );
        assert_eq!(
            parse(r#"{"exp": 1e300}"#).unwrap().get("exp"),
            Some(&Value::Float(1e300))
        );
        assert!(matches!(
            parse(r#"{"exp": 18446744073709551615}"#).unwrap().get("exp"),
            Some(Value::Float(_))
        ));
        assert_eq!(
            parse(r#"{"exp": "1"}"#).unwrap().get("exp"),
            Some(&Value::Str("1".into()))
        );
    }

    #[test]
    fn duplicate_names_are_refused_at_every_depth() {
        for json in [
            r#"{"exp":1,"exp":2}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"c":[{"d":0,"d":0}]}]}"#,
            r#"{"\u0065xp":1,"exp":2}"#,
        ] {
            assert!(
                matches!(parse(json), Err(Error::DuplicateMember { .. })),
                "{json}"
            );
        }
        let many: String = (0..40).map(|i| format!("\"k{i}\":0,")).collect();
        let json = format!("{{{many}\"k7\":1}}");
        assert_eq!(
            parse(&json).unwrap_err(),
            Error::DuplicateMember {
                segment: Segment::Payload,
                name: "k7".into()
            }
        );
        assert!(parse(&format!("{{{many}\"z\":1}}")).is_ok());
    }

    #[test]
    fn not_an_object_versus_not_json() {
        assert_eq!(parse("[1]").unwrap_err(), Error::NotAnObject(Segment::Payload));
        assert_eq!(parse("\"s\"").unwrap_err(), Error::NotAnObject(Segment::Payload));
        assert!(matches!(parse("\u{feff}{}"), Err(Error::Json { .. })));
        assert!(matches!(parse("{} x"), Err(Error::Json { .. })));
        assert!(matches!(parse("{"), Err(Error::Json { .. })));
        assert!(matches!(parse("nope"), Err(Error::Json { .. })));
    }
}
