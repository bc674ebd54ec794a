//! One pass instead of two: the caller's claims type is deserialized while the
//! checks of the strict pass ([`json`](super::json)) are made on the way.
//!
//! [`decode`](crate::decode) needs two things from the payload: the verdict of
//! the strict pass (no member twice at any depth, the registered claims read
//! by type) and a `T`. Done one after the other, serde_json lexes the same
//! bytes twice, and that second lexing is most of what `decode` costs beyond
//! the HMAC. Here serde_json lexes them once: each `Deserializer`, `Visitor`,
//! `MapAccess` and `SeqAccess` that `T`'s `Deserialize` gets is wrapped, so
//! that every member name at every depth is seen and checked for repeats, and
//! the top-level members named in `keep` are captured as [`Value`]s exactly as
//! the strict pass reads them. Values `T` would skip are read anyway (an
//! ignored value is read with `deserialize_any`), so nothing escapes the check.
//!
//! It only ever *vouches*. [`deserialize`] returns `Some` when it watched
//! everything the strict pass checks and found it all well. On any doubt (an
//! error from `T`, even one `T` catches and recovers from, a repeated name, a top level that is not an object, a value
//! it could not watch: bytes, a 128-bit integer, an enum as a registered
//! claim, serde_json's raw values) it returns `None`, and the caller runs the two passes, which decide
//! and give the exact error. So it can only make `decode` faster: never laxer,
//! and never different.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, VariantAccess, Visitor,
};
use serde::Deserialize;

use super::json::{first_repeat, same, Object, Value};

/// Deserializes a `T` from `bytes` and returns it with the strict pass's
/// [`Object`], or `None` when the two-pass path must decide.
pub(crate) fn deserialize<'de, T: Deserialize<'de>>(
    bytes: &'de [u8],
    keep: &'static [&'static str],
) -> Option<(T, Object<'de>)> {
    let watch = Watch {
        keep,
        doubt: Cell::new(false),
        object: RefCell::new(None),
        kept: RefCell::new(Vec::with_capacity(keep.len())),
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let ctx = Ctx {
        watch: &watch,
        top: true,
        keep: Keep::No,
    };
    let value = T::deserialize(ctx.wrap(&mut de)).ok()?;
    de.end().ok()?;
    if watch.doubt.get() {
        return None;
    }
    let names = watch.object.into_inner()?; // None: the top level was no object
    Some((value, Object::new(names, watch.kept.into_inner())))
}

/// What the wrappers share: the doubt flag and what the top level yields.
struct Watch<'de> {
    keep: &'static [&'static str],
    /// Set on anything the strict pass would refuse or that was not watched.
    doubt: Cell<bool>,
    /// The top-level member names, once the top-level object is complete.
    object: RefCell<Option<Vec<Cow<'de, str>>>>,
    /// The top-level members named in `keep`, as the strict pass reads them.
    kept: RefCell<Vec<(&'static str, Value<'de>)>>,
}

/// Where a wrapper stands: at the top level or below it, and where the value
/// being read goes if it is kept.
#[derive(Clone, Copy)]
struct Ctx<'s, 'de> {
    watch: &'s Watch<'de>,
    top: bool,
    keep: Keep<'s, 'de>,
}

/// Where the value being read goes.
#[derive(Clone, Copy)]
enum Keep<'s, 'de> {
    /// Nowhere: it is only checked.
    No,
    /// Into [`Watch::kept`], as the top-level member of that name.
    Member(&'static str),
    /// Into the items of a kept array.
    Item(&'s RefCell<Vec<Value<'de>>>),
}

impl<'s, 'de> Ctx<'s, 'de> {
    fn doubt(&self) {
        self.watch.doubt.set(true);
    }

    /// Passes `result` on, doubting if it is an error: `T` may catch an error
    /// and carry on (a "lenient" field), but serde_json may by then have
    /// consumed a value, or the end of an object, that nothing recorded.
    fn checked<R, E>(&self, result: Result<R, E>) -> Result<R, E> {
        if result.is_err() {
            self.doubt();
        }
        result
    }

    /// Records a value if it is kept. Every visit records its value here
    /// (or doubts), exactly once.
    fn keep(&self, value: impl FnOnce() -> Value<'de>) {
        match self.keep {
            Keep::No => {}
            Keep::Member(name) => self.watch.kept.borrow_mut().push((name, value())),
            Keep::Item(items) => items.borrow_mut().push(value()),
        }
    }

    /// Records a scalar: at the top level, it means the payload is no object.
    fn capture(&self, value: impl FnOnce() -> Value<'de>) {
        if self.top {
            self.doubt();
        }
        self.keep(value);
    }

    /// `inner` (a deserializer or a visitor), watched in this context.
    fn wrap<X>(self, inner: X) -> Watched<'s, 'de, X> {
        Watched { inner, ctx: self }
    }

    /// The context of a value inside this one: below the top, not kept.
    fn below(self) -> Self {
        self.kept_as(Keep::No)
    }

    /// The context of a value inside this one, kept as `keep`.
    fn kept_as(self, keep: Keep<'s, 'de>) -> Self {
        Ctx {
            watch: self.watch,
            top: false,
            keep,
        }
    }
}

/// A `Deserializer` whose visitors are [`Watched`] too.
struct Watched<'s, 'de, D> {
    inner: D,
    ctx: Ctx<'s, 'de>,
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.ctx.checked(self.inner.$method(self.ctx.wrap(visitor)))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Watched<'_, 'de, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier
    }

    /// A value `T` skips is still read, so that its members are checked.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.ctx
            .checked(self.inner.deserialize_unit_struct(name, self.ctx.wrap(visitor)))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        // serde_json's private names (`$serde_json::private::RawValue`) take
        // the value whole, unread: nothing inside it would be checked.
        if name.starts_with('$') {
            self.ctx.doubt();
        }
        self.ctx.checked(
            self.inner
                .deserialize_newtype_struct(name, self.ctx.wrap(visitor)),
        )
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.ctx
            .checked(self.inner.deserialize_tuple(len, self.ctx.wrap(visitor)))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.ctx.checked(
            self.inner
                .deserialize_tuple_struct(name, len, self.ctx.wrap(visitor)),
        )
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.ctx.checked(
            self.inner
                .deserialize_struct(name, fields, self.ctx.wrap(visitor)),
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.ctx.checked(
            self.inner
                .deserialize_enum(name, variants, self.ctx.wrap(visitor)),
        )
    }
}

/// A `Visitor` that records what it is shown, then passes it on.
impl<'de, V: Visitor<'de>> Visitor<'de> for Watched<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Bool(v));
        self.inner.visit_bool(v)
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Int(v));
        self.inner.visit_i64(v)
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::from_u64(v));
        self.inner.visit_u64(v)
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Float(v));
        self.inner.visit_f64(v)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Str(Cow::Owned(v.to_owned())));
        self.inner.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Str(Cow::Borrowed(v)));
        self.inner.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Str(Cow::Owned(v.clone())));
        self.inner.visit_string(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Null);
        self.inner.visit_unit()
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.ctx.capture(|| Value::Null);
        self.inner.visit_none()
    }

    // What the inner value is, the wrapped deserializer will record.
    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(self.ctx.wrap(deserializer))
    }
    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(self.ctx.wrap(deserializer))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        if let Keep::No = self.ctx.keep {
            if self.ctx.top {
                self.ctx.doubt();
            }
            let below = self.ctx.below();
            return self.inner.visit_seq(WatchedSeq {
                inner: seq,
                ctx: below,
            });
        }
        // A kept array keeps its items, as the strict pass does.
        let items = RefCell::new(Vec::new());
        let ctx = self.ctx.kept_as(Keep::Item(&items));
        let value = self.inner.visit_seq(WatchedSeq { inner: seq, ctx })?;
        self.ctx.keep(|| Value::Array(items.into_inner()));
        Ok(value)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.ctx.keep(|| Value::Object);
        self.inner.visit_map(WatchedMap {
            inner: map,
            ctx: self.ctx,
            // Room for a typical claims set at the top; nested objects are rarer.
            names: Vec::with_capacity(if self.ctx.top { 8 } else { 0 }),
        })
    }

    // Not watched: never `Some` through here.
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Self::Value, E> {
        self.ctx.doubt();
        self.inner.visit_i128(v)
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Self::Value, E> {
        self.ctx.doubt();
        self.inner.visit_u128(v)
    }
    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
        self.ctx.doubt();
        self.inner.visit_bytes(v)
    }
    fn visit_borrowed_bytes<E: de::Error>(self, v: &'de [u8]) -> Result<Self::Value, E> {
        self.ctx.doubt();
        self.inner.visit_borrowed_bytes(v)
    }

    /// serde_json reads an enum from `"Variant"` or `{"Variant": value}`
    /// only, so there is no second member name to repeat; the value inside is
    /// watched. An enum as the whole payload, or as a kept claim, is a doubt.
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        if self.ctx.top || !matches!(self.ctx.keep, Keep::No) {
            self.ctx.doubt();
        }
        self.inner.visit_enum(WatchedEnum {
            inner: data,
            ctx: self.ctx.below(),
        })
    }
}

/// An `EnumAccess`, then its `VariantAccess`, whose content is watched.
struct WatchedEnum<'s, 'de, A> {
    inner: A,
    ctx: Ctx<'s, 'de>,
}

impl<'s, 'de, A: EnumAccess<'de>> EnumAccess<'de> for WatchedEnum<'s, 'de, A> {
    type Error = A::Error;
    type Variant = WatchedEnum<'s, 'de, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self::Variant), A::Error> {
        let (variant, access) = self.ctx.checked(self.inner.variant_seed(seed))?;
        let access = WatchedEnum {
            inner: access,
            ctx: self.ctx,
        };
        Ok((variant, access))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for WatchedEnum<'_, 'de, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.ctx.checked(self.inner.unit_variant())
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.ctx.checked(self.inner.newtype_variant_seed(ValueSeed {
            inner: seed,
            ctx: self.ctx,
        }))
    }
    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.ctx
            .checked(self.inner.tuple_variant(len, self.ctx.wrap(visitor)))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.ctx
            .checked(self.inner.struct_variant(fields, self.ctx.wrap(visitor)))
    }
}

/// A `MapAccess` that collects the member names, refuses a repeated one when
/// the object ends, and watches each value.
struct WatchedMap<'s, 'de, A> {
    inner: A,
    ctx: Ctx<'s, 'de>,
    names: Vec<Cow<'de, str>>,
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for WatchedMap<'_, 'de, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
        let before = self.names.len();
        let key = self.ctx.checked(self.inner.next_key_seed(NameSeed {
            inner: seed,
            names: &mut self.names,
        }))?;
        if key.is_some() {
            if self.names.len() != before + 1 {
                self.ctx.doubt(); // the name was not seen as a string
            }
            return Ok(key);
        }
        if first_repeat(&self.names).is_some() {
            self.ctx.doubt();
            return Err(de::Error::custom("duplicate member"));
        }
        if self.ctx.top {
            *self.ctx.watch.object.borrow_mut() = Some(std::mem::take(&mut self.names));
        }
        Ok(None)
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        let keep = match (self.ctx.top, self.names.last()) {
            (true, Some(name)) => match self.ctx.watch.keep.iter().find(|k| same(k, name)) {
                Some(kept) => Keep::Member(kept),
                None => Keep::No,
            },
            _ => Keep::No,
        };
        let ctx = self.ctx.kept_as(keep);
        self.ctx
            .checked(self.inner.next_value_seed(ValueSeed { inner: seed, ctx }))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// A `SeqAccess` that watches each element.
struct WatchedSeq<'s, 'de, A> {
    inner: A,
    ctx: Ctx<'s, 'de>,
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for WatchedSeq<'_, 'de, A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, A::Error> {
        self.ctx.checked(self.inner.next_element_seed(ValueSeed {
            inner: seed,
            ctx: self.ctx,
        }))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

/// Hands the value's deserializer to `T`'s seed, watched.
struct ValueSeed<'s, 'de, S> {
    inner: S,
    ctx: Ctx<'s, 'de>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for ValueSeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(self.ctx.wrap(deserializer))
    }
}

/// Hands a member name's deserializer to `T`'s seed, noting the name.
struct NameSeed<'n, 'de, S> {
    inner: S,
    names: &'n mut Vec<Cow<'de, str>>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for NameSeed<'_, 'de, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(Name::new(deserializer, self.names))
    }
}

/// The deserializer of a member name, and its visitor: records the name when
/// it is shown as a string. A name shown any other way (as a number, for a map
/// with integer keys) is not recorded, which `WatchedMap` takes as a doubt.
struct Name<'n, 'de, X> {
    inner: X,
    names: &'n mut Vec<Cow<'de, str>>,
}

impl<'n, 'de, X> Name<'n, 'de, X> {
    fn new(inner: X, names: &'n mut Vec<Cow<'de, str>>) -> Self {
        Name { inner, names }
    }
}

macro_rules! forward_name {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(Name::new(visitor, self.names))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Name<'_, 'de, D> {
    type Error = D::Error;

    forward_name! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64 deserialize_u128
        deserialize_f32 deserialize_f64 deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_option deserialize_unit deserialize_seq
        deserialize_map deserialize_identifier
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.deserialize_any(visitor)
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_unit_struct(name, Name::new(visitor, self.names))
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_newtype_struct(name, Name::new(visitor, self.names))
    }
    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Self::Error> {
        self.inner.deserialize_tuple(len, Name::new(visitor, self.names))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_tuple_struct(name, len, Name::new(visitor, self.names))
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_struct(name, fields, Name::new(visitor, self.names))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_enum(name, variants, Name::new(visitor, self.names))
    }
}

/// Only the three ways serde_json shows a name as text are recorded; every
/// other visit is the inner visitor's own default, which refuses it (so the
/// two-pass path decides).
impl<'de, V: Visitor<'de>> Visitor<'de> for Name<'_, 'de, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        self.names.push(Cow::Owned(v.to_owned()));
        self.inner.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        self.names.push(Cow::Borrowed(v));
        self.inner.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        self.names.push(Cow::Owned(v.clone()));
        self.inner.visit_string(v)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use serde::de::IgnoredAny;
    use serde_json::Value as Json;

    use super::*;
    use crate::jwt::error::Segment;
    use crate::jwt::json::parse_object;
    use crate::jwt::validation::REGISTERED;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Claims {
        sub: String,
        exp: i64,
        aud: Option<Vec<String>>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    enum Role {
        Reader,
        Admin(u32),
        Custom { name: String, extra: Json },
        Pair(i32, Json),
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct WithEnum {
        exp: i64,
        roles: Vec<Role>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Flattened {
        sub: String,
        #[serde(flatten)]
        rest: HashMap<String, Json>,
    }

    /// Whenever one pass vouches, it agrees with the two passes: same verdict
    /// of the strict pass, same registered claims, same `T`.
    fn agrees<T: de::DeserializeOwned + PartialEq + fmt::Debug>(json: &str) -> bool {
        let Some((value, object)) = deserialize::<T>(json.as_bytes(), REGISTERED) else {
            return false;
        };
        let strict = parse_object(json.as_bytes(), Segment::Payload, REGISTERED).expect("strict pass agrees");
        for name in REGISTERED {
            assert_eq!(object.get(name), strict.get(name), "{name} in {json}");
        }
        for name in ["sub", "exp", "x", "y", "nested"] {
            assert_eq!(object.contains(name), strict.contains(name), "{name} in {json}");
        }
        assert_eq!(
            value,
            serde_json::from_slice::<T>(json.as_bytes()).unwrap(),
            "{json}"
        );
        true
    }

    const GOOD: &[&str] = &[
        r#"{"sub":"1","exp":10}"#,
        r#"{"sub":"1","exp":10,"aud":["a","b"],"x":{"y":[1,{"z":null}]}}"#,
        r#"{"sub":"\u0031","exp":10,"iat":1.5,"nbf":-3,"iss":"me"}"#,
        r#" {"exp":10,"sub":"1","big":18446744073709551615,"aud":"a","iat":1e300} "#,
        r#"{"exp":10,"sub":"1","aud":[["x"],{"k":1},null,true,2]}"#,
    ];

    #[test]
    fn vouches_for_good_payloads_with_any_claims_type() {
        for json in GOOD {
            assert!(agrees::<Json>(json), "{json}");
            assert!(agrees::<IgnoredAnyEq>(json), "{json}");
            assert!(agrees::<HashMap<String, Json>>(json), "{json}");
            assert!(agrees::<Flattened>(json), "{json}");
        }
        assert!(agrees::<Claims>(GOOD[0]));
        assert!(agrees::<Claims>(GOOD[1]));
        assert!(agrees::<Option<Claims>>(GOOD[1]));
    }

    #[test]
    fn doubts_whatever_the_strict_pass_refuses() {
        for json in [
            r#"{"exp":1,"exp":2}"#,
            r#"{"a":{"b":1,"b":2}}"#,
            r#"{"a":[{"c":[{"d":0,"d":0}]}]}"#,
            r#"{"\u0065xp":1,"exp":2}"#,
            r#"[{"exp":1}]"#,
            r#"null"#,
            r#""s""#,
            r#"{"exp":1} x"#,
            "{\"s\":\"\u{7f}\",\"s\":1}",
        ] {
            assert!(
                deserialize::<Json>(json.as_bytes(), REGISTERED).is_none(),
                "{json}"
            );
            assert!(
                deserialize::<IgnoredAny>(json.as_bytes(), REGISTERED).is_none(),
                "{json}"
            );
            assert!(
                deserialize::<Option<Json>>(json.as_bytes(), REGISTERED).is_none(),
                "{json}"
            );
        }
        // Duplicates inside values the claims type skips are still found.
        let hidden = r#"{"sub":"1","exp":10,"skipped":{"k":1,"k":2}}"#;
        assert!(deserialize::<Claims>(hidden.as_bytes(), REGISTERED).is_none());
        // A top level that is not an object, even if `T` would take it.
        assert!(deserialize::<Vec<i32>>(b"[1,2]", REGISTERED).is_none());
    }

    #[test]
    fn watches_inside_enums() {
        let json = r#"{"exp":1,"roles":["Reader",{"Admin":3},{"Custom":{"name":"x","extra":{"a":1}}},{"Pair":[1,{}]}]}"#;
        assert!(agrees::<WithEnum>(json));
        let repeated = r#"{"exp":1,"roles":[{"Custom":{"name":"x","extra":{"a":1,"a":2}}}]}"#;
        assert!(deserialize::<WithEnum>(repeated.as_bytes(), REGISTERED).is_none());
        let repeated = r#"{"exp":1,"roles":[{"Pair":[1,{"b":1,"b":1}]}]}"#;
        assert!(deserialize::<WithEnum>(repeated.as_bytes(), REGISTERED).is_none());
    }

    #[test]
    fn doubts_what_it_cannot_watch() {
        // Integer keys are not shown as text.
        assert!(deserialize::<HashMap<u32, i64>>(br#"{"1":2}"#, REGISTERED).is_none());
        // An error from `T` is left to the two passes to explain.
        assert!(deserialize::<Claims>(br#"{"sub":1,"exp":10}"#, REGISTERED).is_none());
    }

    /// A field that swallows its own errors: serde_json has consumed the
    /// value (or a nested object's end) by then, unrecorded.
    fn lenient<'de, D: Deserializer<'de>, X: Deserialize<'de>>(d: D) -> Result<Option<X>, D::Error> {
        Ok(X::deserialize(d).ok())
    }

    #[derive(Deserialize, Debug)]
    #[allow(dead_code)] // read only through Debug
    struct Lenient {
        exp: i64,
        #[serde(default, deserialize_with = "lenient")]
        nbf: Option<String>,
        #[serde(default, deserialize_with = "lenient")]
        iss: Option<u64>,
        #[serde(default, deserialize_with = "lenient")]
        x: Option<HashMap<String, String>>,
    }

    /// Found in review: a `T` that catches an error inside itself used to get
    /// a vouch, and the claims checks then missed `nbf`, `iss` and nested
    /// duplicates. Any error through the wrappers is now a doubt, and
    /// `decode` agrees with the two passes.
    #[test]
    fn an_error_caught_inside_t_is_still_a_doubt() {
        for json in [
            r#"{"exp":4102444800,"nbf":4102444800}"#,
            r#"{"exp":4102444800,"iss":"evil"}"#,
            r#"{"exp":4102444800,"x":{"a":"s","a":5}}"#,
        ] {
            assert!(
                deserialize::<Lenient>(json.as_bytes(), REGISTERED).is_none(),
                "{json}"
            );
        }
        let key = crate::Hs256Key::new(&[3; 32]).unwrap();
        let token = |claims: &str| {
            let input = format!(
                "{}.{}",
                crate::jwt::header::DEFAULT_HEADER_B64,
                crate::base64url::encode(claims.as_bytes())
            );
            format!(
                "{input}.{}",
                crate::base64url::encode(&key.sign(input.as_bytes()))
            )
        };
        let at = crate::Validation::default().at_time(1000);
        let refused = |claims: &str, validation: &crate::Validation| {
            crate::decode::<Lenient>(&key, &token(claims), validation).unwrap_err()
        };
        assert!(matches!(
            refused(r#"{"exp":4102444800,"nbf":4102444800}"#, &at),
            crate::Error::NotYetValid { .. }
        ));
        assert_eq!(
            refused(
                r#"{"exp":4102444800,"iss":"evil"}"#,
                &at.clone().with_issuer("good")
            ),
            crate::Error::WrongIssuer("evil".into())
        );
        assert!(matches!(
            refused(r#"{"exp":4102444800,"x":{"a":"s","a":5}}"#, &at),
            crate::Error::DuplicateMember { .. }
        ));
    }

    #[test]
    fn deep_nesting_is_serde_jsons_limit_not_a_stack_overflow() {
        let nested = |depth: usize| format!(r#"{{"exp":1,"x":{}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert!(agrees::<Json>(&nested(100)));
        assert!(deserialize::<Json>(nested(10_000).as_bytes(), REGISTERED).is_none());
    }

    /// `IgnoredAny` that compares equal, for `agrees`.
    #[derive(Debug)]
    struct IgnoredAnyEq;
    impl PartialEq for IgnoredAnyEq {
        fn eq(&self, _: &Self) -> bool {
            true
        }
    }
    impl<'de> Deserialize<'de> for IgnoredAnyEq {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            IgnoredAny::deserialize(d).map(|_| IgnoredAnyEq)
        }
    }
}
