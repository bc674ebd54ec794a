//! The JOSE header: what we write when signing, and what we accept when verifying.
//!
//! We write `{"alg":"HS256","typ":"JWT"}`, optionally with another `typ` and a
//! `kid`. When verifying, `alg` must be exactly the string `"HS256"`: the key
//! decides the algorithm, and the header may only agree with it (RFC 8725 §3.1).
//! A `crit` member is refused, since it names extensions we do not implement.
//! `kid`, `jku`, `jwk`, `x5u` and `x5c` are read by no code here: a token never
//! chooses or fetches the key it is checked with.

use alloc::borrow::{Cow, ToOwned};
use alloc::{format, string::String, vec::Vec};

use super::error::{echo, Error, Segment};
use super::json::{self, Wanted};

/// The header [`encode`](crate::encode) writes: `{"alg":"HS256","typ":"JWT"}`
/// as base64url.
pub(crate) const DEFAULT_HEADER_B64: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9";

/// The header of a token to be signed: `alg` is always `HS256`; `typ` and `kid`
/// can be chosen.
///
/// ```
/// use minijwt::{encode_with_header, Header, Hs256Key};
///
/// let key = Hs256Key::new(&[7u8; 32]).unwrap();
/// let header = Header::new().with_typ("at+jwt").with_kid("2026-11");
/// let token = encode_with_header(&key, &header, &serde_json::json!({"sub": "1"})).unwrap();
/// let first = token.split('.').next().unwrap();
/// assert_eq!(
///     minijwt::base64url::decode(first).unwrap(),
///     br#"{"alg":"HS256","typ":"at+jwt","kid":"2026-11"}"#
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    typ: Option<String>,
    kid: Option<String>,
}

impl Default for Header {
    fn default() -> Self {
        Header::new()
    }
}

impl Header {
    /// `{"alg":"HS256","typ":"JWT"}`.
    ///
    /// ```
    /// assert_eq!(minijwt::Header::new().typ(), Some("JWT"));
    /// ```
    pub fn new() -> Self {
        Header {
            typ: Some("JWT".to_owned()),
            kid: None,
        }
    }

    /// Sets `typ`, e.g. `at+jwt` for an OAuth access token (RFC 9068).
    ///
    /// ```
    /// assert_eq!(minijwt::Header::new().with_typ("at+jwt").typ(), Some("at+jwt"));
    /// ```
    #[must_use]
    pub fn with_typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Leaves `typ` out (it is optional in RFC 7515 §4.1.9).
    ///
    /// ```
    /// assert_eq!(minijwt::Header::new().without_typ().typ(), None);
    /// ```
    #[must_use]
    pub fn without_typ(mut self) -> Self {
        self.typ = None;
        self
    }

    /// Sets `kid`, a hint for the verifier about which of its keys was used.
    /// minijwt's own verifier never reads it.
    ///
    /// ```
    /// assert_eq!(minijwt::Header::new().with_kid("k1").kid(), Some("k1"));
    /// ```
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The `typ` this header will carry.
    ///
    /// ```
    /// assert_eq!(minijwt::Header::default().typ(), Some("JWT"));
    /// ```
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// The `kid` this header will carry.
    ///
    /// ```
    /// assert_eq!(minijwt::Header::default().kid(), None);
    /// ```
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Whether this is the header [`DEFAULT_HEADER_B64`] already encodes.
    pub(crate) fn is_default(&self) -> bool {
        self.kid.is_none() && self.typ.as_deref() == Some("JWT")
    }

    /// The header as compact JSON, `alg` first.
    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut json = br#"{"alg":"HS256""#.to_vec();
        for (name, value) in [("typ", &self.typ), ("kid", &self.kid)] {
            if let Some(value) = value {
                json.extend_from_slice(format!(",\"{name}\":").as_bytes());
                // `to_vec`, not `to_writer`: that one needs std's `io::Write`.
                json.extend(serde_json::to_vec(value).expect("a string always serializes"));
            }
        }
        json.push(b'}');
        json
    }
}

/// What a received header says, once [`check_received`] accepted it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Received<'a> {
    /// `typ`, if present.
    pub typ: Option<Cow<'a, str>>,
    /// `kid`, if present: which of the verifier's own keys signed the token
    /// (never a key itself; see [`KeySet`](crate::KeySet)).
    pub kid: Option<Cow<'a, str>>,
}

/// Checks a received header. Order: valid JSON object without duplicate
/// members; `alg` present and exactly `"HS256"`; no `crit`; `typ` and `kid`,
/// if present, strings.
pub(crate) fn check_received(bytes: &[u8]) -> Result<Received<'_>, Error> {
    /// The members of a received header that are read.
    const READ: Wanted = Wanted::new(&["alg", "typ", "kid"]);
    let header = json::parse_object(bytes, Segment::Header, &READ)?;
    match header.string("alg") {
        Ok(Some(alg)) if alg == "HS256" => {}
        Ok(Some(alg)) => return Err(Error::UnsupportedAlgorithm(format!("{:?}", echo(&alg)))),
        Err(other) => {
            return Err(Error::UnsupportedAlgorithm(format!(
                "({} instead of a string)",
                other.kind()
            )))
        }
        Ok(None) => return Err(Error::MissingAlgorithm),
    }
    if header.contains("crit") {
        return Err(Error::CriticalHeader);
    }
    let string = |name: &'static str| {
        (header.string(name)).map_err(|_| Error::InvalidHeader {
            name,
            reason: "is not a string",
        })
    };
    Ok(Received {
        typ: string("typ")?,
        kid: string("kid")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::base64url;

    #[test]
    fn default_header_constant_matches_its_json() {
        assert_eq!(Header::new().to_json(), br#"{"alg":"HS256","typ":"JWT"}"#);
        assert_eq!(base64url::encode(&Header::new().to_json()), DEFAULT_HEADER_B64);
        assert!(Header::new().is_default());
        assert!(!Header::new().with_kid("a").is_default());
    }

    #[test]
    fn header_values_are_json_escaped() {
        let json = Header::new().with_kid("a\"b").to_json();
        assert_eq!(json, br#"{"alg":"HS256","typ":"JWT","kid":"a\"b"}"#);
    }

    #[test]
    fn alg_must_be_exactly_hs256() {
        assert_eq!(check_received(br#"{"alg":"HS256"}"#).unwrap().typ, None);
        assert_eq!(
            check_received(br#"{"alg":"HS256","kid":"k1"}"#)
                .unwrap()
                .kid
                .as_deref(),
            Some("k1")
        );
        assert!(check_received(br#"{"alg":"HS256","kid":7}"#).is_err());
        for bad in [
            r#"{"alg":"none"}"#,
            r#"{"alg":"hs256"}"#,
            r#"{"alg":"HS256 "}"#,
            r#"{"alg":"HS512"}"#,
            r#"{"alg":256}"#,
        ] {
            assert!(
                matches!(
                    check_received(bad.as_bytes()),
                    Err(Error::UnsupportedAlgorithm(_))
                ),
                "{bad}"
            );
        }
        assert_eq!(
            check_received(br#"{"typ":"JWT"}"#).unwrap_err(),
            Error::MissingAlgorithm
        );
    }

    #[test]
    fn crit_and_bad_typ_are_refused() {
        assert_eq!(
            check_received(br#"{"alg":"HS256","crit":[]}"#).unwrap_err(),
            Error::CriticalHeader
        );
        assert!(matches!(
            check_received(br#"{"alg":"HS256","typ":1}"#),
            Err(Error::InvalidHeader { name: "typ", .. })
        ));
    }
}
