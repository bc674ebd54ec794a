//! The one error type of the JWT core: each variant names exactly what failed.

use alloc::{borrow::ToOwned, format, string::String};
use core::fmt;

use super::base64url::DecodeError;

/// One of the three dot-separated parts of a compact JWT.
///
/// ```
/// assert_eq!(minijwt::Segment::Payload.to_string(), "payload");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment {
    /// The first part: the JOSE header (`{"alg":"HS256",...}`).
    Header,
    /// The second part: the claims set.
    Payload,
    /// The third part: the HMAC-SHA256 tag.
    Signature,
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Segment::Header => "header",
            Segment::Payload => "payload",
            Segment::Signature => "signature",
        })
    }
}

/// Why a key was refused, a token could not be built, or a token was rejected.
///
/// Variants are ordered as verification meets them: size, shape, header,
/// signature, claims. Values copied from a token (an `alg`, an issuer) are cut
/// to [`Error::MAX_ECHO`] characters so that an error message stays one
/// readable line whatever the token holds.
///
/// ```
/// use minijwt::{decode, encode, Error, Hs256Key, Validation};
///
/// let key = Hs256Key::new(&[7u8; 32]).unwrap();
/// let token = encode(&key, &serde_json::json!({"exp": 1_000})).unwrap();
/// let err = decode::<serde_json::Value>(&key, &token, &Validation::default().at_time(2_000))
///     .unwrap_err();
/// assert_eq!(err, Error::Expired { exp: 1_000, now: 2_000, leeway: 0 });
/// assert_eq!(err.to_string(), "token expired at 1000 (now 1000 s past it, leeway 0 s)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The HMAC secret is shorter than 32 bytes, the output size of SHA-256
    /// (RFC 7518 §3.2). Raised by [`Hs256Key::new`](crate::Hs256Key::new).
    KeyTooShort {
        /// Length of the secret that was given.
        len: usize,
    },
    /// A key given as text (a key file, `MINIJWT_SECRET`) is not base64url.
    KeyEncoding(DecodeError),
    /// The token is longer than [`Validation::max_token_len`](crate::Validation::with_max_token_len)
    /// allows; nothing of it was decoded.
    TooLong {
        /// Length of the token in bytes.
        len: usize,
        /// The limit in force.
        max: usize,
    },
    /// The token does not have exactly three dot-separated segments.
    SegmentCount {
        /// How many segments were found.
        found: usize,
    },
    /// A segment is empty.
    EmptySegment(Segment),
    /// A segment is not canonical unpadded base64url.
    Base64 {
        /// Which segment.
        segment: Segment,
        /// What is wrong with it.
        error: DecodeError,
    },
    /// The header or payload is not JSON, or not UTF-8.
    Json {
        /// Which segment.
        segment: Segment,
        /// The JSON parser's message.
        message: String,
    },
    /// The header or payload is JSON but not an object.
    NotAnObject(Segment),
    /// A JSON object in the header or payload has the same member twice
    /// (RFC 7519 §4 lets us reject; we always do, at every depth).
    DuplicateMember {
        /// Which segment.
        segment: Segment,
        /// The repeated name.
        name: String,
    },
    /// The header has no `alg`.
    MissingAlgorithm,
    /// The header's `alg` is anything but the exact string `"HS256"`.
    UnsupportedAlgorithm(String),
    /// The header has a `crit` member: it names extensions we do not
    /// implement, so RFC 7515 §4.1.11 says reject.
    CriticalHeader,
    /// A header member has the wrong JSON type (`typ` not a string, say).
    InvalidHeader {
        /// The member's name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The header's `typ` is not the one expected (explicit typing, RFC 8725 §3.11).
    WrongType {
        /// The type the verifier expects.
        expected: String,
        /// The type the token declares, if any.
        found: Option<String>,
    },
    /// The signature segment does not decode to exactly 32 bytes.
    SignatureLength {
        /// How many bytes it decodes to.
        len: usize,
    },
    /// The HMAC-SHA256 of the signing input does not match the signature.
    InvalidSignature,
    /// The header's `kid` names none of the verifier's keys
    /// ([`KeySet`](crate::KeySet)); no other key is tried.
    UnknownKeyId(String),
    /// The token has no `kid`, and the verifier's [`KeySet`](crate::KeySet)
    /// has no key for such tokens.
    MissingKeyId,
    /// The [`Validation`](crate::Validation) has no time to check the claims
    /// against: without the `std` feature there is no system clock, and
    /// neither [`at_time`](crate::Validation::at_time) nor
    /// [`with_clock`](crate::Validation::with_clock) gave one. Every token is
    /// then refused (fail closed), even one whose checks would need no time;
    /// with `std` this error never occurs.
    NoClock,
    /// A registered claim has the wrong type or an out-of-range value
    /// (`"exp": "tomorrow"`, `"exp": 1e300`, `"aud": 5`).
    InvalidClaim {
        /// The claim's name.
        name: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A claim the [`Validation`](crate::Validation) requires is absent.
    MissingClaim(String),
    /// `exp <= now - leeway`.
    Expired {
        /// The token's `exp`.
        exp: i64,
        /// The verifier's clock.
        now: i64,
        /// The leeway in force, in seconds.
        leeway: u64,
    },
    /// `nbf > now + leeway`.
    NotYetValid {
        /// The token's `nbf`.
        nbf: i64,
        /// The verifier's clock.
        now: i64,
        /// The leeway in force, in seconds.
        leeway: u64,
    },
    /// `iat > now + leeway`: the token claims to come from the future.
    IssuedInFuture {
        /// The token's `iat`.
        iat: i64,
        /// The verifier's clock.
        now: i64,
        /// The leeway in force, in seconds.
        leeway: u64,
    },
    /// `iss` is not one of the expected issuers.
    WrongIssuer(String),
    /// `aud` names none of the expected audiences, or names one when none is
    /// expected (RFC 7519 §4.1.3).
    WrongAudience,
    /// `sub` is not the expected subject.
    WrongSubject(String),
    /// The claims could not be turned into JSON while encoding, or are not a JSON object.
    Encode(String),
    /// The payload passed every check but does not fit the caller's claims type.
    Claims(String),
}

impl Error {
    /// The longest text copied from a token into an error, in characters.
    ///
    /// ```
    /// assert_eq!(minijwt::Error::MAX_ECHO, 64);
    /// ```
    pub const MAX_ECHO: usize = 64;
}

/// Copies untrusted text into an error: cut to [`Error::MAX_ECHO`] characters.
pub(crate) fn echo(text: &str) -> String {
    match text.char_indices().nth(Error::MAX_ECHO) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::KeyTooShort { len } => write!(
                f,
                "HS256 key is {len} bytes; at least 32 are required (RFC 7518 section 3.2)"
            ),
            // Never the offending character: it is part of the secret.
            Error::KeyEncoding(DecodeError::InvalidByte { index, .. }) => write!(
                f,
                "key is not base64url text: invalid character at offset {index}"
            ),
            Error::KeyEncoding(e) => write!(f, "key is not base64url text: {e}"),
            Error::TooLong { len, max } => {
                write!(f, "token is {len} bytes, over the limit of {max}; not decoded")
            }
            Error::SegmentCount { found } => write!(
                f,
                "malformed token: {found} segment{} found, a JWS has exactly 3 (header.payload.signature)",
                if *found == 1 { "" } else { "s" }
            ),
            Error::EmptySegment(segment) => write!(f, "malformed token: the {segment} segment is empty"),
            Error::Base64 { segment, error } => {
                write!(f, "malformed token: {segment} segment is not base64url: {error}")
            }
            Error::Json { segment, message } => {
                write!(f, "malformed token: {segment} is not JSON: ")?;
                write_one_line(f, message)
            }
            Error::NotAnObject(segment) => write!(f, "malformed token: {segment} is JSON but not an object"),
            Error::DuplicateMember { segment, name } => {
                write!(f, "malformed token: {segment} has member {name:?} more than once")
            }
            Error::MissingAlgorithm => f.write_str("header has no \"alg\""),
            Error::UnsupportedAlgorithm(alg) => {
                write!(f, "unsupported algorithm {alg}: only \"HS256\" is accepted")
            }
            Error::CriticalHeader => {
                f.write_str("header has \"crit\": it requires extensions this verifier does not implement")
            }
            Error::InvalidHeader { name, reason } => write!(f, "header {name:?} {reason}"),
            Error::WrongType { expected, found } => match found {
                Some(found) => write!(f, "token type is {found:?}, expected {expected:?}"),
                None => write!(f, "token has no \"typ\", expected {expected:?}"),
            },
            Error::SignatureLength { len } => {
                write!(f, "signature is {len} bytes; an HS256 signature is exactly 32")
            }
            Error::InvalidSignature => f.write_str("signature does not match (wrong key or altered token)"),
            Error::UnknownKeyId(kid) => {
                write!(f, "unknown key id {kid:?}: none of the verifier's keys has it")
            }
            Error::MissingKeyId => {
                f.write_str("token has no \"kid\", and no key here is for tokens without one")
            }
            Error::NoClock => f.write_str(
                "no time to check the token against: no system clock without the std feature, \
                 and none given with Validation::at_time or Validation::with_clock",
            ),
            Error::InvalidClaim { name, reason } => write!(f, "claim {name:?} {reason}"),
            Error::MissingClaim(name) => write!(f, "required claim {name:?} is missing"),
            Error::Expired { exp, now, leeway } => write!(
                f,
                "token expired at {exp} (now {} s past it, leeway {leeway} s)",
                i128::from(*now) - i128::from(*exp)
            ),
            Error::NotYetValid { nbf, now, leeway } => write!(
                f,
                "token not valid before {nbf} (that is {} s from now, leeway {leeway} s)",
                i128::from(*nbf) - i128::from(*now)
            ),
            Error::IssuedInFuture { iat, now, leeway } => write!(
                f,
                "token issued in the future at {iat} ({} s from now, leeway {leeway} s)",
                i128::from(*iat) - i128::from(*now)
            ),
            Error::WrongIssuer(iss) => write!(f, "issuer {iss:?} is not the expected one"),
            Error::WrongAudience => f.write_str("audience does not match the expected one"),
            Error::WrongSubject(sub) => write!(f, "subject {sub:?} is not the expected one"),
            Error::Encode(message) => write!(f, "cannot encode claims: {message}"),
            Error::Claims(message) => {
                // serde quotes unknown field and variant names raw: they come from the token.
                f.write_str("claims do not fit the expected type: ")?;
                write_one_line(f, message)
            }
        }
    }
}

/// Writes a parser's message with control characters escaped (`\n` as `\\n`),
/// so that text it quotes from a token cannot break the message over lines.
fn write_one_line(f: &mut fmt::Formatter<'_>, message: &str) -> fmt::Result {
    for c in message.chars() {
        if c.is_control() {
            write!(f, "{}", c.escape_default())?;
        } else {
            fmt::Write::write_char(f, c)?;
        }
    }
    Ok(())
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::KeyEncoding(e) | Error::Base64 { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn key_errors_never_show_key_characters() {
        let error = Error::KeyEncoding(DecodeError::InvalidByte { index: 3, byte: b'+' });
        assert_eq!(
            error.to_string(),
            "key is not base64url text: invalid character at offset 3"
        );
    }

    #[test]
    fn echo_cuts_long_untrusted_text() {
        let long = "x".repeat(1000);
        assert_eq!(echo(&long).chars().count(), Error::MAX_ECHO + 1);
        assert_eq!(echo("HS512"), "HS512");
    }
}
