//! What a verified token must also satisfy: time, issuer, audience, subject,
//! type, required claims, and size.

use alloc::borrow::{Cow, ToOwned};
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use super::error::{echo, Error, Segment};
use super::json::{self, Object, Value, Wanted};

/// Registered claims the claims check reads (RFC 7519 §4.1).
pub(crate) const REGISTERED: Wanted = Wanted::new(&["exp", "nbf", "iat", "iss", "sub", "aud"]);

/// The largest NumericDate accepted, in either direction: 9999-12-31T23:59:59Z.
/// Anything beyond is a mistake or an attack (`1e300`), never a date.
///
/// ```
/// assert_eq!(minijwt::time::utc(minijwt::MAX_NUMERIC_DATE), "9999-12-31T23:59:59Z");
/// ```
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// The default [`Validation::with_max_token_len`]: 8 KiB, the usual cap on an
/// HTTP header line.
///
/// ```
/// assert_eq!(minijwt::DEFAULT_MAX_TOKEN_LEN, 8192);
/// ```
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Which `typ` header a token must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TypeCheck {
    /// `typ` absent or `JWT`: plain JWTs only, so a token minted for a
    /// specific use (`at+jwt`, `refresh+jwt`) is not taken for a generic one.
    JwtOrAbsent,
    /// `typ` present and equal to this.
    Exactly(String),
}

/// A caller's clock function ([`Validation::with_clock`]).
#[derive(Debug, Clone, Copy)]
struct Clock(fn() -> i64);

/// Compared by address, the only comparison a function has: one function may
/// have two addresses, and two with the same code may share one. Good enough
/// for `Validation`'s `Eq`, which no check relies on.
impl PartialEq for Clock {
    fn eq(&self, other: &Self) -> bool {
        core::ptr::fn_addr_eq(self.0, other.0)
    }
}

impl Eq for Clock {}

/// The checks [`decode`](crate::decode) applies after the signature.
///
/// The default is strict: `exp` is required and checked, `nbf` and `iat` are
/// checked when present, the leeway is 0 s, the token may be at most 8 KiB, its
/// `typ` must be absent or `JWT`, and a token with an `aud` is refused unless
/// an audience is expected (RFC 7519 §4.1.3). Each option below states its
/// default and whether it *narrows* what is accepted (refuses more),
/// *widens* it (accepts more) or *replaces* a rule (some of each).
///
/// ```
/// use minijwt::{decode, encode, Error, Hs256Key, Validation};
/// use serde_json::json;
///
/// let key = Hs256Key::new(&[7u8; 32]).unwrap();
/// let token = encode(&key, &json!({"iss": "minijwt", "aud": ["api"], "exp": 2_000})).unwrap();
///
/// let checks = Validation::default().with_issuer("minijwt").with_audience("api").at_time(1_000);
/// assert!(decode::<serde_json::Value>(&key, &token, &checks).is_ok());
///
/// let other_api = Validation::default().with_issuer("minijwt").with_audience("billing").at_time(1_000);
/// assert_eq!(decode::<serde_json::Value>(&key, &token, &other_api).unwrap_err(), Error::WrongAudience);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    leeway: u64,
    check_exp: bool,
    required: Vec<String>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
    subject: Option<String>,
    typ: TypeCheck,
    now: Option<i64>,
    clock: Option<Clock>,
    max_token_len: usize,
}

impl Default for Validation {
    fn default() -> Self {
        Validation {
            leeway: 0,
            check_exp: true,
            required: Vec::new(),
            issuers: None,
            audiences: None,
            subject: None,
            typ: TypeCheck::JwtOrAbsent,
            now: None,
            clock: None,
            max_token_len: DEFAULT_MAX_TOKEN_LEN,
        }
    }
}

impl Validation {
    /// Allows `leeway` seconds of clock difference in the `exp`, `nbf` and
    /// `iat` checks. Default: 0. **Widens**: tokens up to `leeway` seconds
    /// past `exp` (or before `nbf`, or issued in the future) pass.
    ///
    /// ```
    /// # use minijwt::{decode, encode, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"exp": 100})).unwrap();
    /// let late = Validation::default().at_time(105);
    /// assert!(decode::<serde_json::Value>(&key, &token, &late).is_err());
    /// assert!(decode::<serde_json::Value>(&key, &token, &late.with_leeway(10)).is_ok());
    /// ```
    #[must_use]
    pub fn with_leeway(mut self, seconds: u64) -> Self {
        self.leeway = seconds;
        self
    }

    /// Requires `iss` to equal `issuer`. Call again to accept several issuers.
    /// Default: any `iss`, or none. **Narrows** (the first call; each further
    /// call widens the set of issuers accepted).
    ///
    /// ```
    /// # use minijwt::{decode, encode, Error, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"iss": "b", "exp": 100})).unwrap();
    /// let checks = Validation::default().at_time(0).with_issuer("a");
    /// assert_eq!(decode::<serde_json::Value>(&key, &token, &checks).unwrap_err(), Error::WrongIssuer("b".into()));
    /// assert!(decode::<serde_json::Value>(&key, &token, &checks.with_issuer("b")).is_ok());
    /// ```
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.get_or_insert_with(Vec::new).push(issuer.into());
        self
    }

    /// Requires `aud` (a string or an array of strings in the token) to contain
    /// `audience`. Call again to accept several audiences; one match suffices.
    /// Default: tokens *without* `aud` only. **Replaces** that rule: tokens
    /// with a matching `aud` pass, tokens without `aud` are then refused.
    ///
    /// ```
    /// # use minijwt::{decode, encode, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"aud": "api", "exp": 100})).unwrap();
    /// let checks = Validation::default().at_time(0);
    /// assert!(decode::<serde_json::Value>(&key, &token, &checks).is_err()); // aud not expected
    /// assert!(decode::<serde_json::Value>(&key, &token, &checks.with_audience("api")).is_ok());
    /// ```
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.get_or_insert_with(Vec::new).push(audience.into());
        self
    }

    /// Requires `sub` to equal `subject`. Default: any `sub`, or none.
    /// **Narrows**.
    ///
    /// ```
    /// # use minijwt::{decode, encode, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"sub": "42", "exp": 100})).unwrap();
    /// let checks = Validation::default().at_time(0);
    /// assert!(decode::<serde_json::Value>(&key, &token, &checks.clone().with_subject("42")).is_ok());
    /// assert!(decode::<serde_json::Value>(&key, &token, &checks.with_subject("7")).is_err());
    /// ```
    #[must_use]
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// Requires the header's `typ` to be `typ` (explicit typing, RFC 8725 §3.11).
    /// Default: `typ` absent or `JWT`. **Replaces** that rule: tokens of this
    /// type pass, plain JWTs are then refused.
    ///
    /// Compared as media types are: without regard to case, and with an
    /// omitted `application/` prefix (RFC 7515 §4.1.9), so `at+jwt` matches
    /// `application/at+JWT`. A token without `typ` is refused.
    ///
    /// ```
    /// # use minijwt::{decode, encode, encode_with_header, Header, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let claims = serde_json::json!({"exp": 100});
    /// let access = encode_with_header(&key, &Header::new().with_typ("at+jwt"), &claims).unwrap();
    /// let checks = Validation::default().at_time(0);
    /// assert!(decode::<serde_json::Value>(&key, &access, &checks).is_err()); // not a plain JWT
    /// assert!(decode::<serde_json::Value>(&key, &access, &checks.with_typ("at+jwt")).is_ok());
    /// ```
    #[must_use]
    pub fn with_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = TypeCheck::Exactly(typ.into());
        self
    }

    /// Requires claim `name` to be present (with any value). Default: `exp`
    /// only, unless [`dangerous_skip_exp_check`](Self::dangerous_skip_exp_check)
    /// is used. **Narrows**.
    ///
    /// ```
    /// # use minijwt::{decode, encode, Error, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"exp": 100})).unwrap();
    /// let checks = Validation::default().at_time(0).require("jti");
    /// assert_eq!(decode::<serde_json::Value>(&key, &token, &checks).unwrap_err(), Error::MissingClaim("jti".into()));
    /// ```
    #[must_use]
    pub fn require(mut self, name: impl Into<String>) -> Self {
        self.required.push(name.into());
        self
    }

    /// Fixes the clock at `unix_seconds` instead of reading the system clock.
    /// Default: the system clock, read once per check (with the `std`
    /// feature; without it there is none, see [`Error::NoClock`]). Neither
    /// narrows nor widens: it says *when* the checks happen. Replaces a clock
    /// set with [`with_clock`](Self::with_clock).
    ///
    /// ```
    /// # use minijwt::{decode, encode, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"exp": 1_300_819_380})).unwrap();
    /// assert!(decode::<serde_json::Value>(&key, &token, &Validation::default()).is_err());
    /// assert!(decode::<serde_json::Value>(&key, &token, &Validation::default().at_time(1_300_000_000)).is_ok());
    /// ```
    #[must_use]
    pub fn at_time(mut self, unix_seconds: i64) -> Self {
        self.now = Some(unix_seconds);
        self.clock = None;
        self
    }

    /// Reads the time from `clock` (Unix seconds), once per check, instead of
    /// the system clock: for a target without `std`, where the time comes from
    /// a real-time clock or the network, or for a test that moves time along.
    /// Default: the system clock with the `std` feature, none without it (see
    /// [`Error::NoClock`]). Neither narrows nor widens: it says *when* the
    /// checks happen. Replaces a time fixed with [`at_time`](Self::at_time).
    ///
    /// A plain function, so that a `Validation` stays `Clone`, `Eq` and
    /// `'static`; a closure that captures nothing is one.
    ///
    /// ```
    /// use core::sync::atomic::{AtomicI64, Ordering};
    /// # use minijwt::{decode, encode, Error, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    ///
    /// // Set by whatever keeps time on this device.
    /// static RTC_SECONDS: AtomicI64 = AtomicI64::new(1_000);
    ///
    /// let checks = Validation::default().with_clock(|| RTC_SECONDS.load(Ordering::Relaxed));
    /// let token = encode(&key, &serde_json::json!({"exp": 2_000})).unwrap();
    /// assert!(decode::<serde_json::Value>(&key, &token, &checks).is_ok());
    ///
    /// RTC_SECONDS.store(2_000, Ordering::Relaxed);
    /// assert_eq!(
    ///     decode::<serde_json::Value>(&key, &token, &checks).unwrap_err(),
    ///     Error::Expired { exp: 2_000, now: 2_000, leeway: 0 }
    /// );
    /// ```
    #[must_use]
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = Some(Clock(clock));
        self.now = None;
        self
    }

    /// Sets the longest token accepted, in bytes. Default:
    /// [`DEFAULT_MAX_TOKEN_LEN`] (8 KiB). **Narrows** below the default,
    /// **widens** above it. Longer tokens are refused before any decoding.
    ///
    /// ```
    /// # use minijwt::{decode, encode, Error, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let token = encode(&key, &serde_json::json!({"exp": 100})).unwrap();
    /// let tiny = Validation::default().with_max_token_len(10);
    /// assert_eq!(
    ///     decode::<serde_json::Value>(&key, &token, &tiny).unwrap_err(),
    ///     Error::TooLong { len: token.len(), max: 10 }
    /// );
    /// ```
    #[must_use]
    pub fn with_max_token_len(mut self, bytes: usize) -> Self {
        self.max_token_len = bytes;
        self
    }

    /// **Turns off the `exp` check**: an expired token, or one with no `exp`,
    /// passes. Default: `exp` required and checked. **Widens**. The signature
    /// and every other check still apply, and a present `exp` must still be a
    /// valid NumericDate.
    ///
    /// For one job only: proving that an *expired* token is genuine, as an auth
    /// server does before it refreshes a session (the seed's step 13). Never use
    /// it to authorize a request.
    ///
    /// ```
    /// # use minijwt::{decode, encode, Hs256Key, Validation};
    /// # let key = Hs256Key::new(&[7u8; 32]).unwrap();
    /// let expired = encode(&key, &serde_json::json!({"sub": "1", "exp": 100})).unwrap();
    /// let checks = Validation::default().at_time(5_000);
    /// assert!(decode::<serde_json::Value>(&key, &expired, &checks).is_err());
    /// assert!(decode::<serde_json::Value>(&key, &expired, &checks.dangerous_skip_exp_check()).is_ok());
    /// ```
    #[must_use]
    pub fn dangerous_skip_exp_check(mut self) -> Self {
        self.check_exp = false;
        self
    }

    /// The leeway in seconds.
    ///
    /// ```
    /// assert_eq!(minijwt::Validation::default().leeway(), 0);
    /// ```
    pub fn leeway(&self) -> u64 {
        self.leeway
    }

    /// The longest token accepted, in bytes.
    ///
    /// ```
    /// assert_eq!(minijwt::Validation::default().max_token_len(), 8192);
    /// ```
    pub fn max_token_len(&self) -> usize {
        self.max_token_len
    }

    /// The time checks are made at: the fixed time, the clock function's
    /// time, or the system clock now. Only with the `std` feature; see
    /// [`try_now`](Self::try_now) for a time that may be missing.
    ///
    /// ```
    /// assert_eq!(minijwt::Validation::default().at_time(7).now(), 7);
    /// ```
    #[cfg(feature = "std")]
    pub fn now(&self) -> i64 {
        self.given_time().unwrap_or_else(|| {
            // A clock before 1970 is broken. Reading it as the far future makes
            // every token expired, rather than every token valid.
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(i64::MAX, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        })
    }

    /// The time checks are made at: the fixed time, the clock function's
    /// time, or with the `std` feature the system clock now (as `now` gives
    /// it). Without `std`, when neither [`at_time`](Self::at_time) nor
    /// [`with_clock`](Self::with_clock) gave a time, [`Error::NoClock`]; with
    /// `std` never an error.
    ///
    /// ```
    /// # use minijwt::Validation;
    /// assert_eq!(Validation::default().at_time(7).try_now(), Ok(7));
    /// assert_eq!(Validation::default().with_clock(|| 8).try_now(), Ok(8));
    /// ```
    pub fn try_now(&self) -> Result<i64, Error> {
        #[cfg(feature = "std")]
        return Ok(self.now());
        #[cfg(not(feature = "std"))]
        return self.given_time().ok_or(Error::NoClock);
    }

    /// The time the caller gave: fixed, or read from its clock function.
    fn given_time(&self) -> Option<i64> {
        self.now.or_else(|| self.clock.map(|Clock(read)| read()))
    }

    /// Checks the header's `typ` against the expected one.
    pub(crate) fn check_typ(&self, found: Option<&str>) -> Result<(), Error> {
        let expected = match &self.typ {
            TypeCheck::JwtOrAbsent if matches!(found, None | Some("JWT")) => return Ok(()),
            TypeCheck::JwtOrAbsent => "JWT",
            TypeCheck::Exactly(expected) => expected.as_str(),
        };
        match found {
            Some(found) if same_media_type(found, expected) => Ok(()),
            found => Err(Error::WrongType {
                expected: expected.to_owned(),
                found: found.map(echo),
            }),
        }
    }

    /// Checks the claims set, read by the strict JSON pass, at time `now`.
    ///
    /// Order: every registered claim well-typed; required claims present;
    /// `exp`, `nbf`, `iat` against the clock; `iss`, `sub`, `aud`.
    pub(crate) fn check_claims(&self, claims: &Object<'_>, now: i64) -> Result<(), Error> {
        let exp = numeric_date(claims, Moment::Expires)?;
        let nbf = numeric_date(claims, Moment::NotBefore)?;
        let iat = numeric_date(claims, Moment::IssuedAt)?;
        let string = |name| {
            (claims.string(name)).map_err(|_| Error::InvalidClaim {
                name,
                reason: "must be a string",
            })
        };
        let (iss, sub) = (string("iss")?, string("sub")?);
        let aud = audience_claim(claims)?;

        for name in self.required_claims() {
            if !claims.contains(name) {
                return Err(Error::MissingClaim(name.to_owned()));
            }
        }

        for (moment, seconds) in Moment::ALL.into_iter().zip([exp, nbf, iat]) {
            if let Some(seconds) = seconds {
                self.against_clock(moment, seconds, now)?;
            }
        }

        if let (Some(expected), Some(iss)) = (&self.issuers, iss) {
            if !expected.iter().any(|e| *e == iss) {
                return Err(Error::WrongIssuer(echo(&iss)));
            }
        }
        if let (Some(expected), Some(sub)) = (&self.subject, sub) {
            if *expected != sub {
                return Err(Error::WrongSubject(echo(&sub)));
            }
        }
        match (&self.audiences, aud) {
            (Some(expected), Some(aud)) if !aud.iter().any(|a| expected.iter().any(|e| e == a)) => {
                Err(Error::WrongAudience)
            }
            // RFC 7519 §4.1.3: a recipient that does not identify itself with
            // the audience of a token that has one must reject it.
            (None, Some(_)) => Err(Error::WrongAudience),
            _ => Ok(()),
        }
    }

    /// The claims that must be present, in the order they are checked: `exp`
    /// (unless its check is off), those of [`require`](Self::require), then
    /// `iss`, `sub` and `aud` when an issuer, subject or audience is expected.
    fn required_claims(&self) -> impl Iterator<Item = &str> {
        let expected = [
            self.issuers.as_ref().map(|_| "iss"),
            self.subject.as_ref().map(|_| "sub"),
            self.audiences.as_ref().map(|_| "aud"),
        ];
        (self.check_exp.then_some("exp").into_iter())
            .chain(self.required.iter().map(String::as_str))
            .chain(expected.into_iter().flatten())
    }

    /// Checks one time claim, read as `seconds`, against `now` and the leeway.
    fn against_clock(&self, moment: Moment, seconds: i64, now: i64) -> Result<(), Error> {
        // i128: `now` and the leeway are caller-chosen and must not overflow.
        let (at, now_wide, leeway) = (i128::from(seconds), i128::from(now), i128::from(self.leeway));
        match moment {
            Moment::Expires if self.check_exp && at <= now_wide - leeway => Err(Error::Expired {
                exp: seconds,
                now,
                leeway: self.leeway,
            }),
            Moment::NotBefore if at > now_wide + leeway => Err(Error::NotYetValid {
                nbf: seconds,
                now,
                leeway: self.leeway,
            }),
            Moment::IssuedAt if at > now_wide + leeway => Err(Error::IssuedInFuture {
                iat: seconds,
                now,
                leeway: self.leeway,
            }),
            _ => Ok(()),
        }
    }

    /// Judges each time claim of a payload (its JSON bytes) at
    /// [`try_now`](Self::try_now), one by one, with the checks [`decode`](crate::decode) runs: the type
    /// and range of a NumericDate, its rounding the strict way, `exp`
    /// required, the leeway. For tools that explain a verdict, such as
    /// `minijwt token explain`; the token's verdict is still `decode`'s, which
    /// also weighs everything else, in its order.
    ///
    /// Errors when the payload is not a strict JSON object, or when there is
    /// no clock ([`Error::NoClock`], only without `std`).
    ///
    /// ```
    /// use minijwt::{Error, Validation};
    ///
    /// let checks = Validation::default().with_leeway(5).at_time(1_000);
    /// let [exp, nbf, iat] = checks.judge_times(br#"{"exp": 998, "nbf": 1000.5}"#).unwrap();
    /// assert_eq!((exp.name, exp.seconds, exp.verdict), ("exp", Some(998), Ok(()))); // within the leeway
    /// assert_eq!(nbf.seconds, Some(1_001)); // rounded up: the strict way for nbf
    /// assert_eq!(nbf.verdict, Ok(()));
    /// assert_eq!((iat.seconds, iat.verdict), (None, Ok(()))); // absent, and not required
    ///
    /// let [exp, ..] = Validation::default().at_time(0).judge_times(br#"{"exp": "soon"}"#).unwrap();
    /// assert!(matches!(exp.verdict, Err(Error::InvalidClaim { name: "exp", .. })));
    /// ```
    pub fn judge_times(&self, payload: &[u8]) -> Result<[TimeClaim; 3], Error> {
        let claims = json::parse_object(payload, Segment::Payload, &REGISTERED)?;
        let now = self.try_now()?;
        Ok(Moment::ALL.map(|moment| {
            let (seconds, verdict) = match numeric_date(&claims, moment) {
                Err(e) => (None, Err(e)),
                Ok(None) if self.required_claims().any(|name| name == moment.name()) => {
                    (None, Err(Error::MissingClaim(moment.name().to_owned())))
                }
                Ok(None) => (None, Ok(())),
                Ok(Some(seconds)) => (Some(seconds), self.against_clock(moment, seconds, now)),
            };
            TimeClaim {
                name: moment.name(),
                seconds,
                verdict,
            }
        }))
    }
}

/// Compares two `typ` values as media types (RFC 7515 §4.1.9).
fn same_media_type(a: &str, b: &str) -> bool {
    fn strip(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

/// One time claim, as [`Validation::judge_times`] judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimeClaim {
    /// `exp`, `nbf` or `iat`.
    pub name: &'static str,
    /// The claim in whole seconds, as the checks read it (a fraction rounded
    /// the strict way), when it is a valid NumericDate.
    pub seconds: Option<i64>,
    /// `Ok` when this claim passes on its own, else the error `decode` gives
    /// for it: not a NumericDate, `exp` missing, expired, not yet valid,
    /// issued in the future.
    pub verdict: Result<(), Error>,
}

/// The three time claims, in the order they are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Expires,
    NotBefore,
    IssuedAt,
}

impl Moment {
    const ALL: [Moment; 3] = [Moment::Expires, Moment::NotBefore, Moment::IssuedAt];

    fn name(self) -> &'static str {
        match self {
            Moment::Expires => "exp",
            Moment::NotBefore => "nbf",
            Moment::IssuedAt => "iat",
        }
    }
}

/// Reads a NumericDate claim: absent, or a JSON number within ±[`MAX_NUMERIC_DATE`].
///
/// A fraction is rounded towards the stricter answer: a token expiring at
/// 10.5 counts as expiring at 10, one valid from (or issued at) 10.5 as
/// valid from 11.
fn numeric_date(claims: &Object<'_>, moment: Moment) -> Result<Option<i64>, Error> {
    let name = moment.name();
    match claims.get(name) {
        None => Ok(None),
        // Not `seconds.abs()`: that overflows for i64::MIN (a panic in debug builds).
        Some(Value::Int(seconds)) if (-MAX_NUMERIC_DATE..=MAX_NUMERIC_DATE).contains(seconds) => {
            Ok(Some(*seconds))
        }
        Some(Value::Float(seconds)) if seconds.is_finite() && seconds.abs() <= MAX_NUMERIC_DATE as f64 => {
            // In range by the guard above, so the cast is exact but for the
            // fraction, which it drops (rounding towards zero). `f64::floor`
            // and `ceil` are not in `core`; one comparison does their work.
            let truncated = *seconds as i64;
            Ok(Some(match moment {
                Moment::Expires if truncated as f64 > *seconds => truncated - 1,
                Moment::NotBefore | Moment::IssuedAt if (truncated as f64) < *seconds => truncated + 1,
                _ => truncated,
            }))
        }
        Some(Value::Int(_) | Value::Float(_)) => Err(Error::InvalidClaim {
            name,
            reason: "is out of range for a date",
        }),
        Some(_) => Err(Error::InvalidClaim {
            name,
            reason: "must be a number of seconds (NumericDate)",
        }),
    }
}

/// Reads `aud`: a string, or an array of strings (RFC 7519 §4.1.3).
fn audience_claim<'a>(claims: &Object<'a>) -> Result<Option<Vec<Cow<'a, str>>>, Error> {
    let invalid = || Error::InvalidClaim {
        name: "aud",
        reason: "must be a string or an array of strings",
    };
    match claims.string("aud") {
        Ok(aud) => Ok(aud.map(|aud| vec![aud])),
        Err(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Str(s) => Ok(claims.text(s)),
                _ => Err(invalid()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Err(_) => Err(invalid()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::json::parse_object;

    fn check(validation: &Validation, json: &str, now: i64) -> Result<(), Error> {
        let claims = parse_object(json.as_bytes(), Segment::Payload, &REGISTERED).unwrap();
        validation.check_claims(&claims, now)
    }

    #[test]
    fn exp_boundary_is_exclusive() {
        let v = Validation::default();
        assert!(check(&v, r#"{"exp":100}"#, 99).is_ok());
        assert_eq!(
            check(&v, r#"{"exp":100}"#, 100),
            Err(Error::Expired {
                exp: 100,
                now: 100,
                leeway: 0
            })
        );
        let v = v.with_leeway(5);
        assert!(check(&v, r#"{"exp":100}"#, 104).is_ok());
        assert!(check(&v, r#"{"exp":100}"#, 105).is_err());
    }

    #[test]
    fn nbf_and_iat_boundaries() {
        let v = Validation::default();
        assert!(check(&v, r#"{"exp":1000,"nbf":100}"#, 100).is_ok());
        assert!(matches!(
            check(&v, r#"{"exp":1000,"nbf":101}"#, 100),
            Err(Error::NotYetValid { .. })
        ));
        assert!(check(&v, r#"{"exp":1000,"nbf":101}"#, 100).is_err());
        assert!(check(&v.clone().with_leeway(1), r#"{"exp":1000,"nbf":101}"#, 100).is_ok());
        assert!(matches!(
            check(&v, r#"{"exp":1000,"iat":101}"#, 100),
            Err(Error::IssuedInFuture { .. })
        ));
    }

    #[test]
    fn fractional_dates_round_the_strict_way() {
        let v = Validation::default();
        assert!(check(&v, r#"{"exp":100.9}"#, 100).is_err());
        assert!(matches!(
            check(&v, r#"{"exp":1000,"nbf":100.1}"#, 100),
            Err(Error::NotYetValid { nbf: 101, .. })
        ));
        // Below zero too: -0.5 is floored to -1 for exp, ceiled to 0 for nbf.
        assert!(check(&v, r#"{"exp":-0.5}"#, -2).is_ok());
        assert!(matches!(
            check(&v, r#"{"exp":-0.5}"#, -1),
            Err(Error::Expired { exp: -1, .. })
        ));
        assert!(check(&v, r#"{"exp":9,"nbf":-0.5}"#, 0).is_ok());
        assert!(matches!(
            check(&v, r#"{"exp":9,"nbf":-0.5}"#, -1),
            Err(Error::NotYetValid { nbf: 0, .. })
        ));
        // Whole numbers written as floats are not moved.
        assert!(matches!(
            check(&v, r#"{"exp":9,"nbf":-3.0}"#, -4),
            Err(Error::NotYetValid { nbf: -3, .. })
        ));
    }

    #[test]
    fn numeric_dates_must_be_numbers_in_range() {
        let v = Validation::default();
        for json in [
            r#"{"exp":"4102444800"}"#,
            r#"{"exp":true}"#,
            r#"{"exp":null}"#,
            r#"{"exp":[1]}"#,
        ] {
            assert!(
                matches!(check(&v, json, 0), Err(Error::InvalidClaim { name: "exp", .. })),
                "{json}"
            );
        }
        for json in [
            r#"{"exp":1e300}"#,
            r#"{"exp":-1e300}"#,
            r#"{"exp":253402300800}"#,
            r#"{"exp":18446744073709551615}"#,
        ] {
            assert!(
                matches!(
                    check(&v, json, 0),
                    Err(Error::InvalidClaim {
                        reason: "is out of range for a date",
                        ..
                    })
                ),
                "{json}"
            );
        }
        assert!(check(&v, r#"{"exp":253402300799}"#, 0).is_ok());
        // Turning the exp check off does not make a malformed exp acceptable.
        let lax = v.dangerous_skip_exp_check();
        assert!(check(&lax, r#"{"exp":"soon"}"#, 0).is_err());
        assert!(check(&lax, r#"{}"#, 0).is_ok());
    }

    #[test]
    fn audience_rules() {
        let v = Validation::default();
        assert_eq!(check(&v, r#"{"exp":9,"aud":"a"}"#, 0), Err(Error::WrongAudience));
        let v = v.with_audience("a");
        assert!(check(&v, r#"{"exp":9,"aud":"a"}"#, 0).is_ok());
        assert!(check(&v, r#"{"exp":9,"aud":["b","a"]}"#, 0).is_ok());
        assert_eq!(
            check(&v, r#"{"exp":9,"aud":["b"]}"#, 0),
            Err(Error::WrongAudience)
        );
        assert_eq!(
            check(&v, r#"{"exp":9}"#, 0),
            Err(Error::MissingClaim("aud".into()))
        );
        assert!(matches!(
            check(&v, r#"{"exp":9,"aud":["a",1]}"#, 0),
            Err(Error::InvalidClaim { name: "aud", .. })
        ));
    }

    #[test]
    fn issuer_and_subject_rules() {
        let v = Validation::default().with_issuer("me").with_subject("42");
        assert!(check(&v, r#"{"exp":9,"iss":"me","sub":"42"}"#, 0).is_ok());
        assert_eq!(
            check(&v, r#"{"exp":9,"iss":"you","sub":"42"}"#, 0),
            Err(Error::WrongIssuer("you".into()))
        );
        assert_eq!(
            check(&v, r#"{"exp":9,"iss":"me","sub":"7"}"#, 0),
            Err(Error::WrongSubject("7".into()))
        );
        assert_eq!(
            check(&v, r#"{"exp":9,"sub":"42"}"#, 0),
            Err(Error::MissingClaim("iss".into()))
        );
        assert!(matches!(
            check(&v, r#"{"exp":9,"iss":1,"sub":"42"}"#, 0),
            Err(Error::InvalidClaim { name: "iss", .. })
        ));
    }

    #[test]
    fn typ_rules() {
        let plain = Validation::default();
        assert!(plain.check_typ(None).is_ok());
        assert!(plain.check_typ(Some("JWT")).is_ok());
        assert!(plain.check_typ(Some("jwt")).is_ok());
        assert!(plain.check_typ(Some("at+jwt")).is_err());
        let access = plain.with_typ("at+jwt");
        assert!(access.check_typ(Some("application/AT+JWT")).is_ok());
        assert!(access.check_typ(Some("refresh+jwt")).is_err());
        assert!(access.check_typ(None).is_err());
    }

    /// judge_times gives each time claim the error decode gives for it,
    /// `require` included.
    #[test]
    fn judged_times_agree_with_the_checks() {
        let v = Validation::default().at_time(10).require("nbf");
        let [exp, nbf, iat] = v.judge_times(br#"{"exp":100}"#).unwrap();
        assert_eq!((exp.verdict, iat.verdict), (Ok(()), Ok(())));
        assert_eq!(nbf.verdict, Err(Error::MissingClaim("nbf".into())));
        assert_eq!(check(&v, r#"{"exp":100}"#, 10), nbf.verdict);
        let lax = Validation::default().at_time(10).dangerous_skip_exp_check();
        assert_eq!(lax.judge_times(b"{}").unwrap()[0].verdict, Ok(()));
    }

    /// One test per default the docs state, each at its boundary.
    #[test]
    fn the_documented_defaults() {
        let v = Validation::default();
        // leeway 0: one second past exp is refused.
        assert!(check(&v, r#"{"exp":100}"#, 100).is_err());
        assert_eq!(v.leeway(), 0);
        // exp required and checked.
        assert_eq!(check(&v, r#"{}"#, 0), Err(Error::MissingClaim("exp".to_owned())));
        // only exp required: nothing else is.
        assert!(check(&v, r#"{"exp":100}"#, 0).is_ok());
        // any iss or sub, or none.
        assert!(check(&v, r#"{"exp":100,"iss":"anyone","sub":"x"}"#, 0).is_ok());
        // tokens without aud only.
        assert!(check(&v, r#"{"exp":100,"aud":"api"}"#, 0).is_err());
        // typ absent or JWT (any case, with or without application/).
        assert!(v.check_typ(None).is_ok());
        assert!(v.check_typ(Some("JWT")).is_ok());
        assert!(v.check_typ(Some("application/jwt")).is_ok());
        assert!(v.check_typ(Some("at+jwt")).is_err());
        // 8 KiB at most.
        assert_eq!(v.max_token_len(), 8 * 1024);
        // the system clock with std; none without.
        #[cfg(feature = "std")]
        {
            let system = Validation::default().now();
            let before = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs() as i64;
            assert!((system - before).abs() <= 1, "{system} vs {before}");
            assert_eq!(v.try_now(), Ok(system));
        }
        #[cfg(not(feature = "std"))]
        assert_eq!(v.try_now(), Err(Error::NoClock));
    }

    #[test]
    fn the_last_time_given_is_the_time() {
        use core::sync::atomic::{AtomicI64, Ordering};
        static TICKS: AtomicI64 = AtomicI64::new(0);
        let ticking = Validation::default().with_clock(|| TICKS.fetch_add(1, Ordering::Relaxed));
        // Read once per check, not once per Validation.
        assert_eq!(ticking.try_now(), Ok(0));
        assert_eq!(ticking.try_now(), Ok(1));
        assert_eq!(ticking.clone().at_time(7).try_now(), Ok(7));
        assert_eq!(ticking.at_time(7).with_clock(|| 8).try_now(), Ok(8));
    }
}
