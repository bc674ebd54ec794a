//! What decoding a token must give: the one vocabulary of
//! tests/negative_cases.rs (a verdict per case of the JSON file) and
//! tests/rejection_table.rs (a verdict per rule and attack).

use std::fmt;

use minijwt::base64url::DecodeError;
use minijwt::{Error, Segment};
use serde_json::Value;

/// What a token must give.
pub enum Expect {
    /// Accepted, whatever the claims.
    Accept,
    /// Accepted, with exactly these claims.
    Claims(Value),
    /// Rejected with exactly this error.
    Is(Error),
    /// Rejected with `Error::Json` on this segment, with a message (the JSON
    /// parser's words, which are not compared).
    JsonIn(Segment),
    /// Rejected with an error this matcher accepts (for errors that carry the
    /// clock's reading), described for failures.
    Matches(&'static str, fn(&Error) -> bool),
}

impl Expect {
    /// Whether the token must be accepted.
    pub fn accepts(&self) -> bool {
        matches!(self, Expect::Accept | Expect::Claims(_))
    }

    /// `Ok` if `got` is what is expected; else what was expected and what came.
    pub fn check(&self, got: &Result<Value, Error>) -> Result<(), String> {
        let ok = match (self, got) {
            (Expect::Accept, Ok(_)) => true,
            (Expect::Claims(claims), Ok(got)) => got == claims,
            (Expect::Is(expected), Err(error)) => error == expected,
            (Expect::JsonIn(segment), Err(Error::Json { segment: s, message })) => {
                s == segment && !message.is_empty()
            }
            (Expect::Matches(_, matcher), Err(error)) => matcher(error),
            _ => false,
        };
        match ok {
            true => Ok(()),
            false => Err(format!("expected {self:?}, got {got:?}")),
        }
    }
}

impl fmt::Debug for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Accept => write!(f, "Accept"),
            Expect::Claims(claims) => write!(f, "Accept with {claims}"),
            Expect::Is(error) => write!(f, "{error:?}"),
            Expect::JsonIn(segment) => write!(f, "Json on the {segment:?}"),
            Expect::Matches(what, _) => write!(f, "{what}"),
        }
    }
}

/// "must be a number of seconds (NumericDate)": a date claim that is not a number.
pub const NOT_A_DATE: &str = "must be a number of seconds (NumericDate)";
/// "is out of range for a date".
pub const OUT_OF_RANGE: &str = "is out of range for a date";

pub fn unsupported(alg: &str) -> Expect {
    Expect::Is(Error::UnsupportedAlgorithm(alg.to_owned()))
}

pub fn base64_error(segment: Segment, error: DecodeError) -> Expect {
    Expect::Is(Error::Base64 { segment, error })
}

pub fn invalid_byte(segment: Segment, index: usize, byte: u8) -> Expect {
    base64_error(segment, DecodeError::InvalidByte { index, byte })
}

pub fn invalid_claim(name: &'static str, reason: &'static str) -> Expect {
    Expect::Is(Error::InvalidClaim { name, reason })
}

/// A payload member given more than once.
pub fn duplicate(name: &str) -> Expect {
    Expect::Is(Error::DuplicateMember {
        segment: Segment::Payload,
        name: name.to_owned(),
    })
}
