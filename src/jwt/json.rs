//! The strict reading of a header or payload: one JSON object, read byte by
//! byte by the scanner below, which refuses what serde_json alone would let
//! through and keeps the values of a few named members for the checks.
//!
//! serde_json, like most JSON parsers, keeps the *last* of two members with the
//! same name. For a token that is dangerous: `{"exp":4102444800,"exp":1}` means
//! one thing to a first-wins reader and another to a last-wins one. RFC 7519 §4
//! allows rejecting such a claims set, and we do, at every depth and after
//! unescaping (`"\u0065xp"` is `exp`). The registered claims are kept as
//! *what they are* (a number, a string, something else), so that
//! `"exp": "tomorrow"` is an error rather than a missing `exp`.
//!
//! This is the only place those rules live. [`decode`](crate::decode) runs
//! this scan, then the claims checks on what it kept, and only then hands the
//! same text to serde_json for the caller's claims type (as a `str`: checked
//! as UTF-8 once, here, rather than string by string again by serde_json).
//!
//! The scanner accepts exactly the JSON serde_json accepts (RFC 8259, at most
//! 127 nested arrays or objects, numbers that fit an `f64`, strings of valid
//! UTF-8 whose `\u` escapes pair their surrogates), so that the later
//! deserialization never meets a syntax error; the `validate_claims` fuzz
//! target holds the two to that. Its errors are worded by serde_json too: on
//! a syntax error, serde_json is asked to read the bytes and say what is wrong.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::error::{echo, Error, Segment};

/// A member value as the checks need to see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    /// A JSON integer that fits `i64` (except `-0`, a `Float` as in serde_json).
    Int(i64),
    /// Any other JSON number: a fraction, an exponent, or an integer beyond `i64`.
    Float(f64),
    /// A string, as where it is in the text: [`Object::text`] reads it.
    Str(Name),
    Array(Vec<Value>),
    /// An object (its members were checked for duplicates and dropped).
    Object,
}

impl Value {
    /// The JSON type's name, for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Array(_) => "an array",
            Value::Object => "an object",
        }
    }
}

/// A top-level object: every member name in order, and the values asked for.
#[derive(Debug)]
pub(crate) struct Object<'a> {
    text: &'a str,
    names: Vec<Name>,
    /// The names asked for, and in the same places their values, if present.
    keep: &'static Wanted,
    kept: Kept,
}

/// The values of the members asked for, each in its name's place in the
/// list, written there as they are read (no copies on the hot path).
type Kept = [Option<Value>; Wanted::MAX];

impl<'a> Object<'a> {
    /// The value of member `name`, if it was asked for and is present.
    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.kept[self.keep.place(name)?].as_ref()
    }

    /// The text of a kept string, unescaped.
    pub(crate) fn text(&self, string: &Name) -> Cow<'a, str> {
        string.read(self.text)
    }

    /// The text of member `name`, if it was asked for and is present, or
    /// its value if that is not a string.
    #[inline]
    pub(crate) fn string(&self, name: &str) -> Result<Option<Cow<'a, str>>, &Value> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Str(string)) => Ok(Some(self.text(string))),
            Some(other) => Err(other),
        }
    }

    /// The whole JSON text the object was read from: all of the input,
    /// known to be UTF-8.
    pub(crate) fn json(&self) -> &'a str {
        self.text
    }

    /// Whether the object has a member `name` (asked for or not).
    pub(crate) fn contains(&self, name: &str) -> bool {
        // A member asked for has its value kept, whatever its type: no
        // need to look through the names (`exp`, required by default, is one).
        match self.keep.place(name) {
            Some(place) => self.kept[place].is_some(),
            None => self.names.iter().any(|n| n.read(self.text) == name),
        }
    }
}

/// Parses `bytes` as one JSON object, refusing duplicate member names at any
/// depth, and keeps the values of the members named in `keep`.
///
/// Errors, in the order the bytes meet them: not JSON ([`Error::Json`]), a
/// member name twice in one object ([`Error::DuplicateMember`], reported when
/// that object closes), some other value ([`Error::NotAnObject`], when
/// serde_json reads it as one; see `not_an_object`).
pub(crate) fn parse_object<'a>(
    bytes: &'a [u8],
    segment: Segment,
    keep: &'static Wanted,
) -> Result<Object<'a>, Error> {
    let mut scan = Scanner::new(bytes);
    scan.skip_whitespace();
    if !scan.eat(b'{') {
        return Err(not_an_object(bytes, segment));
    }
    let mut kept: Kept = Default::default();
    match scan.object(keep, &mut kept).and_then(|()| scan.end()) {
        Ok(()) => Ok(Object {
            text: scan.text,
            names: scan.names,
            keep,
            kept,
        }),
        Err(Fault::Duplicate) => Err(Error::DuplicateMember {
            segment,
            name: scan.duplicate,
        }),
        Err(Fault::Syntax) => Err(syntax_error(bytes, segment)),
    }
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
    let object = parse_object(bytes, segment, &Wanted::NONE)?;
    serde_json::from_str(object.json()).map_err(|e| json_error(segment, &e))
}

/// The error for a top level that is not an object: "not an object" for
/// what serde_json reads as some JSON value, anything else (including a UTF-8
/// byte order mark) "not JSON". Nothing of it is kept, so only the verdict
/// matters, and serde_json gives it.
#[cold]
fn not_an_object(bytes: &[u8], segment: Segment) -> Error {
    match serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
        Ok(_) => Error::NotAnObject(segment),
        Err(e) => json_error(segment, &e),
    }
}

/// The error for bytes the scanner found not to be JSON, in serde_json's words
/// (which say where: `expected value at line 1 column 7`).
#[cold]
fn syntax_error(bytes: &[u8], segment: Segment) -> Error {
    match serde_json::from_slice::<serde_json::Value>(bytes) {
        Err(e) => json_error(segment, &e),
        // Unreachable while the scanner and serde_json agree on what JSON is
        // (a test and a fuzz target check they do); a plain error if not.
        Ok(_) => Error::Json {
            segment,
            message: "invalid JSON".to_owned(),
        },
    }
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

/// A member name, as where it is in the text: nothing is copied unless it
/// holds an escape (rare), and then only when it is compared.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Name {
    /// The bytes between the quotes.
    start: usize,
    end: usize,
    /// Whether they hold a `\` escape, so that they differ from the name.
    escaped: bool,
    /// The length and first bytes of the name, packed: two names that
    /// differ here differ (unless escaped), which settles nearly every
    /// comparison with one instruction.
    fingerprint: u64,
}

/// `bytes`' length (up to 255) and its first seven bytes, packed into one number.
#[inline]
const fn fingerprint(bytes: &[u8]) -> u64 {
    let len = if bytes.len() > 255 { 255 } else { bytes.len() };
    let mut packed = (len as u64) << 56;
    let mut i = 0;
    while i < bytes.len() && i < 7 {
        packed |= (bytes[i] as u64) << (8 * i);
        i += 1;
    }
    packed
}

/// [`fingerprint`] of `text[start..end]`, with one load when eight bytes
/// can be read from `start` (a name is always followed by more JSON).
#[inline]
fn fingerprint_at(text: &[u8], start: usize, end: usize) -> u64 {
    match text.get(start..start + 8) {
        Some(eight) => {
            let len = end - start;
            let word = u64::from_le_bytes(eight.try_into().unwrap_or_default());
            let first = (1u64 << (8 * len.min(7))) - 1;
            word & first | (len.min(255) as u64) << 56
        }
        None => fingerprint(&text[start..end]),
    }
}

impl Name {
    #[inline]
    fn new(text: &[u8], start: usize, end: usize, escaped: bool) -> Self {
        Name {
            start,
            end,
            escaped,
            fingerprint: fingerprint_at(text, start, end),
        }
    }

    /// The name itself, unescaped.
    #[inline]
    fn read(self, text: &str) -> Cow<'_, str> {
        if !self.escaped {
            return Cow::Borrowed(&text[self.start..self.end]);
        }
        self.unescape(text)
    }

    #[cold]
    fn unescape(self, text: &str) -> Cow<'_, str> {
        // Scanned once already: a valid string up to its closing quote.
        let mut scan = Scanner::new(&text.as_bytes()[self.start..]);
        scan.skip_plain_run();
        let mut name = String::from(&text[self.start..self.start + scan.pos]);
        let _ = scan.rest_of_string(Some(&mut name));
        Cow::Owned(name)
    }

    /// Whether two names are the same once unescaped.
    #[inline]
    fn same_as(self, other: Name, text: &str) -> bool {
        if self.escaped || other.escaped {
            return self.read(text) == other.read(text);
        }
        self.fingerprint == other.fingerprint
            && same(&text[self.start..self.end], &text[other.start..other.end])
    }
}

/// The names of the members whose values are kept, with their fingerprints
/// (worked out when the program is compiled).
#[derive(Debug)]
pub(crate) struct Wanted {
    names: &'static [&'static str],
    fingerprints: [u64; Wanted::MAX],
}

impl Wanted {
    /// As many as any caller asks for: the six registered claims the checks read.
    const MAX: usize = 6;
    /// None: the members of an object below the top level.
    const NONE: Wanted = Wanted::new(&[]);

    pub(crate) const fn new(names: &'static [&'static str]) -> Self {
        assert!(names.len() <= Wanted::MAX, "too many members to keep");
        // No name has this fingerprint (its bytes would be 0xFF, never in
        // UTF-8): the places left empty match nothing.
        let mut fingerprints = [u64::MAX; Wanted::MAX];
        let mut i = 0;
        while i < names.len() {
            fingerprints[i] = fingerprint(names[i].as_bytes());
            let mut j = 0;
            while j < i {
                // So that `find` may stop at the first fingerprint that matches.
                assert!(
                    fingerprints[j] != fingerprints[i],
                    "two names with one fingerprint"
                );
                j += 1;
            }
            i += 1;
        }
        Wanted { names, fingerprints }
    }

    /// Which of the names `name` is, by its place in the list, if any.
    #[inline]
    fn find(&self, name: Name, text: &str) -> Option<usize> {
        match name.escaped {
            true => self.place(&name.read(text)),
            false => self.matching(name.fingerprint, || &text[name.start..name.end]),
        }
    }

    /// [`find`](Self::find) for a name given as text.
    #[inline]
    fn place(&self, name: &str) -> Option<usize> {
        self.matching(fingerprint(name.as_bytes()), || name)
    }

    #[inline]
    fn matching<'t>(&self, fingerprint: u64, name: impl FnOnce() -> &'t str) -> Option<usize> {
        let place = self.fingerprints.iter().position(|&f| f == fingerprint)?;
        // A fingerprint holds the length and all of a name of up to seven
        // bytes: only a longer one needs comparing.
        (fingerprint >> 56 <= 7 || same(name(), self.names[place])).then_some(place)
    }
}

/// A member name that occurs more than once in `names`, if any.
fn first_repeat<'t>(names: &[Name], text: &'t str) -> Option<Cow<'t, str>> {
    // A first look, one bit per name picked by its fingerprint: unescaped
    // names with distinct bits are distinct names, the usual case, settled here.
    let mut seen = 0u64;
    let maybe = names.iter().any(|name| {
        let bit = 1 << (name.fingerprint.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58);
        let again = seen & bit != 0 || name.escaped;
        seen |= bit;
        again
    });
    if !maybe {
        return None;
    }
    if names.len() <= 16 {
        // Small objects, i.e. nearly every real token: a pairwise scan beats sorting.
        names
            .iter()
            .enumerate()
            .find(|(i, name)| names[..*i].iter().any(|earlier| earlier.same_as(**name, text)))
            .map(|(_, name)| name.read(text))
    } else {
        let mut sorted: Vec<Cow<'t, str>> = names.iter().map(|name| name.read(text)).collect();
        sorted.sort_unstable();
        sorted
            .windows(2)
            .position(|pair| pair[0] == pair[1])
            .map(|i| sorted.swap_remove(i))
    }
}

/// Why the scan stopped early. One byte, so that the scan's results are
/// cheap to pass back up.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// The bytes are not JSON (serde_json will say why).
    Syntax,
    /// An object has a member twice (named in [`Scanner::duplicate`]).
    Duplicate,
}

/// serde_json's limit on nested arrays and objects: deeper input is an error.
const MAX_DEPTH: usize = 127;

/// A cursor over the text, and the member names of the objects it is inside.
struct Scanner<'a> {
    text: &'a str,
    /// `text` as bytes: the scan looks at ASCII bytes only.
    bytes: &'a [u8],
    pos: usize,
    /// Whether `text` is all the input, rather than the part before an
    /// invalid UTF-8 sequence.
    whole: bool,
    /// The names of every object still open, outermost first: each object's
    /// names are checked for repeats when it closes, then dropped, so at the
    /// end only the top level's are left. One vector for all depths.
    names: Vec<Name>,
    /// Arrays and objects open.
    depth: usize,
    /// The repeated member name, cut by [`echo`], once [`Fault::Duplicate`] is returned.
    duplicate: String,
}

impl<'a> Scanner<'a> {
    /// A scanner of the longest prefix of `input` that is UTF-8: all of it,
    /// normally. Checked once here rather than string by string, so that
    /// every slice between two `"` is known to be text; the scan stops at an
    /// invalid sequence as a scan of the string holding it would have.
    fn new(input: &'a [u8]) -> Self {
        let (text, whole) = match core::str::from_utf8(input) {
            Ok(text) => (text, true),
            Err(e) => (
                core::str::from_utf8(&input[..e.valid_up_to()]).unwrap_or_default(),
                false,
            ),
        };
        Scanner {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            whole,
            // Enough for a typical claims set's names without growing.
            names: Vec::with_capacity(8),
            depth: 0,
            duplicate: String::new(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Takes the next byte, whatever it is.
    fn next(&mut self) -> Result<u8, Fault> {
        let byte = self.peek().ok_or(Fault::Syntax)?;
        self.pos += 1;
        Ok(byte)
    }

    /// Takes `byte` if it comes next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.peek() == Some(byte);
        self.pos += usize::from(next);
        next
    }

    fn expect(&mut self, byte: u8) -> Result<(), Fault> {
        if self.eat(byte) {
            Ok(())
        } else {
            Err(Fault::Syntax)
        }
    }

    /// RFC 8259 §2: space, tab, line feed, carriage return.
    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// Nothing but whitespace may follow the top-level value.
    fn end(&mut self) -> Result<(), Fault> {
        self.skip_whitespace();
        match self.peek() {
            None if self.whole => Ok(()),
            _ => Err(Fault::Syntax),
        }
    }

    /// One value of any type: checked, and stored in `kept` if given (no
    /// [`Value`] is built otherwise).
    fn value(&mut self, kept: Option<&mut Option<Value>>) -> Result<(), Fault> {
        self.skip_whitespace();
        let value = match self.next()? {
            b'{' => {
                // Below the top level nothing is kept.
                self.object(&Wanted::NONE, &mut [])?;
                Value::Object
            }
            b'[' => return self.array(kept),
            b'"' => {
                let start = self.pos;
                let escaped = self.string()?;
                let Some(kept) = kept else { return Ok(()) };
                kept.get_or_insert(Value::Str(Name::new(self.bytes, start, self.pos - 1, escaped)));
                return Ok(());
            }
            b't' => self.literal(b"rue", Value::Bool(true))?,
            b'f' => self.literal(b"alse", Value::Bool(false))?,
            b'n' => self.literal(b"ull", Value::Null)?,
            b'-' | b'0'..=b'9' => {
                self.pos -= 1;
                return self.number(kept);
            }
            _ => return Err(Fault::Syntax),
        };
        if let Some(kept) = kept {
            // Written once: a second member of the same name is refused anyway.
            kept.get_or_insert(value);
        }
        Ok(())
    }

    /// Enters an array or object (its opening byte read).
    fn open(&mut self) -> Result<(), Fault> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Fault::Syntax);
        }
        Ok(())
    }

    /// The members of an object whose `{` was just read, up to its `}`; the
    /// values of those named in `keep` go into `kept`.
    fn object(&mut self, keep: &Wanted, kept: &mut [Option<Value>]) -> Result<(), Fault> {
        self.open()?;
        let first_name = self.names.len();
        self.skip_whitespace();
        if !self.eat(b'}') {
            loop {
                self.skip_whitespace();
                self.expect(b'"')?;
                let start = self.pos;
                let escaped = self.string()?;
                let name = Name::new(self.bytes, start, self.pos - 1, escaped);
                self.skip_whitespace();
                self.expect(b':')?;
                match keep.find(name, self.text) {
                    Some(place) => self.value(Some(&mut kept[place]))?,
                    None => self.value(None)?,
                }
                self.names.push(name);
                self.skip_whitespace();
                match self.next()? {
                    b',' => continue,
                    b'}' => break,
                    _ => return Err(Fault::Syntax),
                }
            }
        }
        if let Some(name) = first_repeat(&self.names[first_name..], self.text) {
            self.duplicate = echo(&name);
            return Err(Fault::Duplicate);
        }
        // Keep only the top level's names: the only ones anyone asks about.
        if self.depth > 1 {
            self.names.truncate(first_name);
        }
        self.depth -= 1;
        Ok(())
    }

    /// The items of an array whose `[` was just read, up to its `]`; stored
    /// in `kept` (each item kept too) if given.
    fn array(&mut self, kept: Option<&mut Option<Value>>) -> Result<(), Fault> {
        self.open()?;
        let mut items = Vec::new();
        self.skip_whitespace();
        if !self.eat(b']') {
            loop {
                let mut item = None;
                self.value(kept.is_some().then_some(&mut item))?;
                items.extend(item);
                self.skip_whitespace();
                match self.next()? {
                    b',' => continue,
                    b']' => break,
                    _ => return Err(Fault::Syntax),
                }
            }
        }
        self.depth -= 1;
        if let Some(kept) = kept {
            kept.get_or_insert(Value::Array(items));
        }
        Ok(())
    }

    /// The rest of `true`, `false` or `null`.
    fn literal(&mut self, rest: &[u8], value: Value) -> Result<Value, Fault> {
        if self.bytes[self.pos..].starts_with(rest) {
            self.pos += rest.len();
            Ok(value)
        } else {
            Err(Fault::Syntax)
        }
    }

    /// A number (RFC 8259 §6), read as serde_json reads it: an integer that
    /// fits `i64` exactly, anything else as the nearest `f64`, which must be
    /// finite (`1e400` is an error, not infinity). Stored in `kept` if given;
    /// otherwise an integer short enough to be finite is only checked.
    fn number(&mut self, kept: Option<&mut Option<Value>>) -> Result<(), Fault> {
        let start = self.pos;
        let negative = self.eat(b'-');
        let magnitude = match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                0
            }
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Fault::Syntax),
        };
        // Up to 18 digits, the value read on the way is exact and fits an i64.
        let short = self.pos - start - usize::from(negative) <= 18;
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            self.at_least_one_digit()?;
        }
        if self.eat(b'e') || self.eat(b'E') {
            integer = false;
            let _ = self.eat(b'+') || self.eat(b'-');
            self.at_least_one_digit()?;
        }
        let text = &self.text[start..self.pos];
        // f64::MAX has 309 digits: fewer can be nothing but finite.
        if integer && kept.is_none() && text.len() < 309 {
            return Ok(());
        }
        let value = match (integer, short, negative) {
            (true, true, false) => Value::Int(magnitude as i64),
            // serde_json reads `-0` as the float -0.0.
            (true, true, true) if magnitude != 0 => Value::Int(-(magnitude as i64)),
            _ => match text.parse::<i64>() {
                Ok(n) if text != "-0" => Value::Int(n),
                _ => match text.parse::<f64>() {
                    Ok(n) if n.is_finite() => Value::Float(n),
                    _ => return Err(Fault::Syntax),
                },
            },
        };
        if let Some(kept) = kept {
            kept.get_or_insert(value);
        }
        Ok(())
    }

    /// A run of digits, and its value (wrapping around past 19 digits).
    fn digits(&mut self) -> u64 {
        let mut value = 0u64;
        while let Some(digit @ b'0'..=b'9') = self.peek() {
            self.pos += 1;
            value = value.wrapping_mul(10).wrapping_add(u64::from(digit - b'0'));
        }
        value
    }

    fn at_least_one_digit(&mut self) -> Result<(), Fault> {
        match self.next()? {
            b'0'..=b'9' => {
                self.digits();
                Ok(())
            }
            _ => Err(Fault::Syntax),
        }
    }

    /// A string whose opening `"` was just read, up to and including its
    /// closing `"`. Returns whether it held an escape.
    #[inline(always)]
    fn string(&mut self) -> Result<bool, Fault> {
        self.skip_plain_run();
        // Nearly every string in a token ends at the first byte that is not plain.
        if self.eat(b'"') {
            return Ok(false);
        }
        self.rest_of_string(None).map(|()| true)
    }

    /// The rest of a string from the first byte that does not stand for
    /// itself, unescaped into `out` if given.
    #[cold]
    fn rest_of_string(&mut self, mut out: Option<&mut String>) -> Result<(), Fault> {
        loop {
            match self.next()? {
                b'"' => return Ok(()),
                b'\\' => {
                    let unescaped = self.escape()?;
                    if let Some(out) = out.as_deref_mut() {
                        out.push(unescaped);
                    }
                }
                _ => return Err(Fault::Syntax), // a control character
            }
            let start = self.pos;
            self.skip_plain_run();
            if let Some(out) = out.as_deref_mut() {
                out.push_str(&self.text[start..self.pos]);
            }
        }
    }

    /// Skips the bytes of a string that stand for themselves: all but `"`,
    /// `\` and the control characters. Eight bytes at a time while none of
    /// them ends the run (strings are most of a token), then byte by byte.
    fn skip_plain_run(&mut self) {
        const ONES: u64 = u64::from_le_bytes([0x01; 8]);
        const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
        /// A high bit in each zero byte of `word` (and maybe in bytes above one).
        fn zero_bytes(word: u64) -> u64 {
            word.wrapping_sub(ONES) & !word & HIGHS
        }
        while let Some(chunk) = self.bytes.get(self.pos..self.pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
            // A high bit for each byte that ends the run. A false one can only
            // sit above a true one, so the lowest is exact.
            let ends = zero_bytes(word ^ (ONES * u64::from(b'"')))
                | zero_bytes(word ^ (ONES * u64::from(b'\\')))
                // A byte below 0x20: subtracting 0x20 borrows into its top bit.
                | word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
            if ends != 0 {
                self.pos += ends.trailing_zeros() as usize / 8;
                return;
            }
            self.pos += 8;
        }
        let rest = &self.bytes[self.pos..];
        self.pos += rest
            .iter()
            .position(|&byte| matches!(byte, b'"' | b'\\' | 0..=0x1F))
            .unwrap_or(rest.len());
    }

    /// The character an escape stands for, its `\` just read (RFC 8259 §7).
    fn escape(&mut self) -> Result<char, Fault> {
        Ok(match self.next()? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = self.hex4()?;
                let code = match unit {
                    // A surrogate must come as a leading one then a trailing one.
                    0xD800..=0xDBFF => {
                        self.expect(b'\\')?;
                        self.expect(b'u')?;
                        let trailing = self.hex4()?;
                        if !(0xDC00..=0xDFFF).contains(&trailing) {
                            return Err(Fault::Syntax);
                        }
                        0x1_0000 + ((unit - 0xD800) << 10) + (trailing - 0xDC00)
                    }
                    0xDC00..=0xDFFF => return Err(Fault::Syntax),
                    _ => unit,
                };
                char::from_u32(code).ok_or(Fault::Syntax)?
            }
            _ => return Err(Fault::Syntax),
        })
    }

    /// The four hex digits of a `\u` escape.
    fn hex4(&mut self) -> Result<u32, Fault> {
        let mut unit = 0;
        for _ in 0..4 {
            let digit = char::from(self.next()?).to_digit(16).ok_or(Fault::Syntax)?;
            unit = unit << 4 | digit;
        }
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Object<'_>, Error> {
        const KEEP: Wanted = Wanted::new(&["exp", "aud"]);
        parse_object(json.as_bytes(), Segment::Payload, &KEEP)
    }

    #[test]
    fn keeps_asked_members_and_names_all() {
        let object = parse(r#"{"exp": 10, "sub": "a", "aud": ["x", "y"]}"#).unwrap();
        assert_eq!(object.get("exp"), Some(&Value::Int(10)));
        assert_eq!(object.get("sub"), None);
        assert!(object.contains("sub"));
        assert!(object.contains("exp") && object.contains("aud"));
        assert!(!object.contains("nbf"));
        assert!(!parse(r#"{"sub": 1, "x": {"exp": 2}}"#).unwrap().contains("exp"));
        assert!(parse(r#"{"exp": null}"#).unwrap().contains("exp"));
        let Some(Value::Array(items)) = object.get("aud") else {
            panic!("aud: {:?}", object.get("aud"))
        };
        let texts: Vec<_> = items
            .iter()
            .map(|item| match item {
                Value::Str(s) => object.text(s),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, ["x", "y"]);
    }

    #[test]
    fn a_long_name_is_found_by_its_bytes_not_its_fingerprint() {
        const KEEP: Wanted = Wanted::new(&["exp", "a_long_name"]);
        let json = br#"{"a_long_namf": 1, "a_long_name": 2, "a_long_": 3}"#;
        let object = parse_object(json, Segment::Payload, &KEEP).unwrap();
        assert_eq!(object.get("a_long_name"), Some(&Value::Int(2)));
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
        let object = parse(r#"{"exp": "\u0031"}"#).unwrap();
        let Some(Value::Str(s)) = object.get("exp") else {
            panic!("{:?}", object.get("exp"))
        };
        assert_eq!(object.text(s), "1");
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
        // A repeated member inside a top level that is no object says
        // nothing about the rest (found by fuzzing: this was "not an object").
        assert!(matches!(parse(r#"[{"a":1,"a":1}"#), Err(Error::Json { .. })));
        assert_eq!(
            parse(r#"[{"a":1,"a":1}]"#).unwrap_err(),
            Error::NotAnObject(Segment::Payload)
        );
    }

    /// Whether the scanner takes `json` as JSON (duplicates aside).
    fn scans(json: &[u8]) -> bool {
        let mut scan = Scanner::new(json);
        !matches!(scan.value(None).and_then(|()| scan.end()), Err(Fault::Syntax))
    }

    /// The scanner and serde_json agree on what JSON is, on the edges of the
    /// grammar: serde_json must never meet a syntax error the scan let by.
    #[test]
    fn what_is_json_is_what_serde_json_says() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        let mut cases: Vec<Vec<u8>> = [
            "{}",
            " {} ",
            "{\"a\":1}",
            "{\"a\" : [ 1 , 2 ] }",
            "{\"a\":1,}",
            "{,}",
            "{\"a\"}",
            "{\"a\":}",
            "{a:1}",
            "{'a':1}",
            "[1,]",
            "[,1]",
            "[]",
            "[1 2]",
            "\"\\u00e9\"",
            "0",
            "-0",
            "-",
            "01",
            "1.",
            ".5",
            "1.e5",
            "1e",
            "1e+",
            "1E-2",
            "-1.5e300",
            "1e309",
            "-1e309",
            "1e-400",
            "0e99999999999999999999",
            "1e99999999999999999999",
            "123456789012345678901234567890",
            "18446744073709551616",
            "-9223372036854775809",
            "true",
            "tru",
            "nul",
            "falsey",
            "\"\\ud83d\\ude00\"",
            "\"\\ud83d\"",
            "\"\\ude00\"",
            "\"\\ud83d\\u0041\"",
            "\"\\ud83dx\"",
            "\"\\ud83d\\n\"",
            "\"\\u12\"",
            "\"\\uZZZZ\"",
            "\"\\x\"",
            "\"\\/\\b\\f\\n\\r\\t\\\"\\\\\"",
            "\"a\tb\"",
            "\"a\u{7f}b\"",
            "\"é\"",
            "\u{feff}{}",
            "{}\u{0}",
            "{} {}",
            "",
            "   ",
            "\u{a0}1",
        ]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
        cases.extend(
            [
                deep(127),
                deep(128),
                format!("{}1{}", "[".repeat(127), "]".repeat(127)),
            ]
            .map(String::into_bytes),
        );
        cases.extend([
            b"{}\xff".to_vec(),
            b"\"\xff\"".to_vec(),
            b"\"\xc3\xa9\"".to_vec(),
            b"\"\xed\xa0\x80\"".to_vec(),
            b"\"a\x1fb\"".to_vec(),
        ]);
        for json in cases {
            let serde = serde_json::from_slice::<serde_json::Value>(&json).is_ok();
            assert_eq!(scans(&json), serde, "{:?}", String::from_utf8_lossy(&json));
        }
    }

    #[test]
    fn a_fingerprint_is_the_same_read_either_way() {
        let text = format!("{}\"}}", "abcdefghij".repeat(30));
        for start in 0..12 {
            for end in start..text.len() - 2 {
                assert_eq!(
                    fingerprint_at(text.as_bytes(), start, end),
                    fingerprint(&text.as_bytes()[start..end]),
                    "{start}..{end}"
                );
            }
        }
    }

    #[test]
    fn syntax_errors_are_worded_by_serde_json() {
        assert_eq!(
            parse("{\"exp\":}").unwrap_err(),
            Error::Json {
                segment: Segment::Payload,
                message: "expected value at line 1 column 8".into()
            }
        );
    }

    #[test]
    fn escaped_names_are_compared_unescaped() {
        assert!(parse("{\"s\tb\": 1}").is_err()); // a raw tab in a name
        let object = parse(r#"{"\u0065xp": 5, "s\u00fcb": "x"}"#).unwrap();
        assert_eq!(object.get("exp"), Some(&Value::Int(5)));
        assert!(object.contains("exp"));
        assert!(object.contains("süb"));
    }
}
