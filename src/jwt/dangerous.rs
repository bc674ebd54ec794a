//! Reading a token **without verifying it**, for inspection tools only.
//!
//! Nothing returned here can be trusted: anyone can write any header and
//! claims. Use it to show a token to a person, never to decide anything.

use alloc::vec::Vec;

use super::error::{Error, Segment};
use super::json;
use super::token::{decode_segment, non_empty, verify, with_segments, Keys};
use super::validation::{Validation, DEFAULT_MAX_TOKEN_LEN};

/// A token taken apart but **not verified**: its signature was not checked,
/// nor its algorithm, nor any claim.
///
/// ```
/// use minijwt::dangerous::decode_unverified;
///
/// let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// let unverified = decode_unverified(token).unwrap();
/// assert_eq!(unverified.header()["alg"], "HS256");
/// assert_eq!(unverified.claims()["sub"], "42");
/// assert_eq!(unverified.signing_input(), "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiI0MiJ9");
/// assert_eq!(unverified.signature(), [0u8; 32]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct UnverifiedToken<'a> {
    segments: [&'a str; 3],
    signing_input: &'a str,
    header: serde_json::Value,
    claims: serde_json::Value,
    signature: Vec<u8>,
}

impl<'a> UnverifiedToken<'a> {
    /// The header, as JSON.
    ///
    /// ```
    /// # let t = minijwt::dangerous::decode_unverified("eyJhbGciOiJub25lIn0.e30.").unwrap();
    /// assert_eq!(t.header()["alg"], "none"); // shown, not accepted
    /// ```
    pub fn header(&self) -> &serde_json::Value {
        &self.header
    }

    /// The claims, as JSON.
    ///
    /// ```
    /// # let t = minijwt::dangerous::decode_unverified("eyJhbGciOiJub25lIn0.e30.").unwrap();
    /// assert_eq!(t.claims(), &serde_json::json!({}));
    /// ```
    pub fn claims(&self) -> &serde_json::Value {
        &self.claims
    }

    /// The signature's bytes (32 for a real HS256 token; any number here).
    ///
    /// ```
    /// # let t = minijwt::dangerous::decode_unverified("eyJhbGciOiJub25lIn0.e30.").unwrap();
    /// assert!(t.signature().is_empty());
    /// ```
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// The three segments as received: header, payload, signature.
    ///
    /// ```
    /// # let t = minijwt::dangerous::decode_unverified("eyJhbGciOiJub25lIn0.e30.").unwrap();
    /// assert_eq!(t.segments(), ["eyJhbGciOiJub25lIn0", "e30", ""]);
    /// ```
    pub fn segments(&self) -> [&'a str; 3] {
        self.segments
    }

    /// `header.payload` as received: the bytes an HS256 signature covers.
    ///
    /// ```
    /// # let t = minijwt::dangerous::decode_unverified("eyJhbGciOiJub25lIn0.e30.").unwrap();
    /// assert_eq!(t.signing_input(), "eyJhbGciOiJub25lIn0.e30");
    /// ```
    pub fn signing_input(&self) -> &'a str {
        self.signing_input
    }
}

/// Takes a token apart **without verifying it**.
///
/// It is as strict about *shape* as [`decode`](crate::decode): at most
/// [`DEFAULT_MAX_TOKEN_LEN`] bytes, three segments, canonical base64url, header
/// and payload JSON objects without duplicate members. It checks no algorithm,
/// no signature and no claim, and it allows an empty signature so that an
/// `alg: none` token can be looked at.
///
/// ```
/// use minijwt::{dangerous::decode_unverified, Error, Segment};
///
/// assert_eq!(decode_unverified("a.b").unwrap_err(), Error::SegmentCount { found: 2 });
/// assert!(matches!(decode_unverified("e30.W10.").unwrap_err(), Error::NotAnObject(Segment::Payload)));
/// ```
pub fn decode_unverified(token: &str) -> Result<UnverifiedToken<'_>, Error> {
    with_segments(token, DEFAULT_MAX_TOKEN_LEN, |parts| {
        // An empty signature is allowed here, so that `alg: none` can be shown.
        non_empty(Segment::Header, parts.header)?;
        non_empty(Segment::Payload, parts.payload)?;
        let header = parse_segment(parts.header, Segment::Header)?;
        let claims = parse_segment(parts.payload, Segment::Payload)?;
        let mut signature = Vec::new();
        decode_segment(parts.signature, Segment::Signature, &mut signature)?;
        Ok(UnverifiedToken {
            segments: [parts.header, parts.payload, parts.signature],
            signing_input: parts.signing_input,
            header,
            claims,
            signature,
        })
    })
}

fn parse_segment(text: &str, segment: Segment) -> Result<serde_json::Value, Error> {
    let mut bytes = Vec::new();
    decode_segment(text, segment, &mut bytes)?;
    json::strict_json_object(&bytes, segment)
}

/// Runs every check of [`decode`](crate::decode) **except the signature**, and
/// returns the first failure.
///
/// For tools that explain a token to a person who does not hold the key. A
/// token that passes this proves nothing: anyone can write it.
///
/// ```
/// use minijwt::{dangerous::check_without_signature, Error, Validation};
///
/// // {"alg":"HS256"}.{"exp":100}.<32 zero bytes>: a forged signature, unnoticed here.
/// let token = "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjEwMH0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
/// assert_eq!(check_without_signature(token, &Validation::default().at_time(50)), Ok(()));
/// assert!(matches!(
///     check_without_signature(token, &Validation::default().at_time(150)),
///     Err(Error::Expired { .. })
/// ));
/// ```
pub fn check_without_signature(token: &str, validation: &Validation) -> Result<(), Error> {
    verify(Keys::Unchecked, token, validation)
}
