//! Base64url without padding (RFC 4648 §5, as RFC 7515 §2 uses it), canonical only.
//!
//! A JWT is three base64url segments joined by dots. The alphabet is
//! `A–Z a–z 0–9 - _`; every 3 input bytes become 4 characters; a final group of
//! 1 or 2 bytes becomes 2 or 3 characters, and no `=` padding is written.
//!
//! Decoding here is *strict*: it accepts exactly the strings [`encode`] can
//! produce. That rules out `=` padding, the standard alphabet's `+` and `/`,
//! whitespace, a length of 1 modulo 4 (no byte ends there), and a last
//! character whose unused low bits are not zero. The last rule matters: a
//! lenient decoder maps `…Xg` and `…Xh` to the same bytes, so one signature would
//! have several spellings, and a token's bytes would no longer identify it.
//!
//! We write this ourselves rather than call the `base64` crate because it is
//! short, it is the part of JWT a reader most wants to see, and it keeps the
//! core's dependencies to HMAC, SHA-256 and JSON. The tests and the fuzzer
//! check it against the `base64` crate.
//!
//! ```
//! use minijwt::base64url;
//!
//! assert_eq!(base64url::encode(b"{\"alg\":\"HS256\"}"), "eyJhbGciOiJIUzI1NiJ9");
//! assert_eq!(base64url::decode("eyJhbGciOiJIUzI1NiJ9").unwrap(), b"{\"alg\":\"HS256\"}");
//! assert!(base64url::decode("eyJhbGciOiJIUzI1NiJ9=").is_err()); // padding
//! ```

use alloc::{string::String, vec::Vec};
use core::fmt;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Each byte's 6-bit value in the alphabet, already shifted into its place in
/// a group of four characters (table `k` for the `k`-th), and `u32::MAX` for a
/// byte outside the alphabet: a group decodes with four loads and three ORs.
const SHIFTED: [[u32; 256]; 4] = {
    let mut tables = [[u32::MAX; 256]; 4];
    let mut value = 0;
    while value < 64 {
        let mut k = 0;
        while k < 4 {
            tables[k][ALPHABET[value] as usize] = (value as u32) << (18 - 6 * k);
            k += 1;
        }
        value += 1;
    }
    tables
};

/// Why a string is not canonical unpadded base64url.
///
/// ```
/// use minijwt::base64url::{decode, DecodeError};
///
/// assert_eq!(decode("a+b/"), Err(DecodeError::InvalidByte { index: 1, byte: b'+' }));
/// assert_eq!(decode("abcde"), Err(DecodeError::InvalidLength { len: 5 }));
/// assert_eq!(decode("Xh"), Err(DecodeError::NonZeroTrailingBits));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// A byte outside `A–Z a–z 0–9 - _` (this includes `=`, `+`, `/` and whitespace).
    InvalidByte {
        /// Position of the byte in the input.
        index: usize,
        /// The offending byte.
        byte: u8,
    },
    /// The length is 1 modulo 4: no sequence of bytes encodes to that.
    InvalidLength {
        /// Length of the input in characters.
        len: usize,
    },
    /// The last character carries bits that no encoder would set (RFC 4648 §3.5).
    NonZeroTrailingBits,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::InvalidByte { index, byte } => match byte {
                b'=' => write!(f, "padding '=' at offset {index} (base64url in JWT is unpadded)"),
                b'+' | b'/' => write!(
                    f,
                    "'{}' at offset {index} is standard base64, not base64url",
                    byte as char
                ),
                0x21..=0x7E => write!(f, "invalid character '{}' at offset {index}", byte as char),
                _ => write!(f, "invalid byte 0x{byte:02x} at offset {index}"),
            },
            DecodeError::InvalidLength { len } => {
                write!(f, "invalid length {len} (a length of 1 modulo 4 encodes nothing)")
            }
            DecodeError::NonZeroTrailingBits => {
                f.write_str("non-canonical encoding: the last character has non-zero unused bits")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// Number of characters [`encode`] produces for `len` bytes.
///
/// ```
/// assert_eq!(minijwt::base64url::encoded_len(32), 43); // an HS256 signature
/// ```
pub const fn encoded_len(len: usize) -> usize {
    (len / 3) * 4
        + match len % 3 {
            0 => 0,
            1 => 2,
            _ => 3,
        }
}

/// Number of bytes a canonical string of `len` characters decodes to, or `None`
/// when no string of that length is valid.
///
/// ```
/// assert_eq!(minijwt::base64url::decoded_len(43), Some(32));
/// assert_eq!(minijwt::base64url::decoded_len(5), None);
/// ```
pub const fn decoded_len(len: usize) -> Option<usize> {
    match len % 4 {
        1 => None,
        0 => Some(len / 4 * 3),
        rem => Some(len / 4 * 3 + rem - 1),
    }
}

/// Encodes `bytes` as unpadded base64url.
///
/// ```
/// assert_eq!(minijwt::base64url::encode(&[0xfb, 0xff]), "-_8");
/// ```
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(encoded_len(bytes.len()));
    encode_into(bytes, &mut out);
    out
}

/// Appends the unpadded base64url encoding of `bytes` to `out`.
///
/// Building a token appends three encodings to one buffer, so this avoids
/// allocating a string for each.
///
/// ```
/// let mut token = String::from("header.");
/// minijwt::base64url::encode_into(b"hi", &mut token);
/// assert_eq!(token, "header.aGk");
/// ```
pub fn encode_into(bytes: &[u8], out: &mut String) {
    let mut buf = core::mem::take(out).into_bytes();
    encode_to_vec(bytes, &mut buf);
    // Only ASCII from ALPHABET was appended to what was already a String.
    *out = String::from_utf8(buf).expect("base64url alphabet is ASCII");
}

/// Appends the encoding of `bytes` to a byte buffer; the token encoder builds
/// the whole token this way and checks it is UTF-8 once at the end.
pub(crate) fn encode_to_vec(bytes: &[u8], out: &mut Vec<u8>) {
    out.reserve(encoded_len(bytes.len()));
    let mut chunks = bytes.chunks_exact(3);
    for chunk in &mut chunks {
        let n = u32::from(chunk[0]) << 16 | u32::from(chunk[1]) << 8 | u32::from(chunk[2]);
        out.extend_from_slice(&[
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ]);
    }
    // A final one or two bytes, padded with zeros, make the first two or
    // three characters of a group.
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let n = (rest.iter().zip([16, 8])).fold(0, |n, (&byte, shift)| n | u32::from(byte) << shift);
        let group = [18, 12, 6].map(|shift| ALPHABET[(n >> shift) as usize & 63]);
        out.extend_from_slice(&group[..=rest.len()]);
    }
}

/// Decodes canonical unpadded base64url.
///
/// ```
/// assert_eq!(minijwt::base64url::decode("-_8").unwrap(), [0xfb, 0xff]);
/// assert!(minijwt::base64url::decode("-_9").is_err()); // same bytes, non-canonical
/// ```
pub fn decode(text: &str) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    decode_into(text.as_bytes(), &mut out)?;
    Ok(out)
}

/// Decodes canonical unpadded base64url, appending the bytes to `out`.
///
/// On error `out` is left as it was.
///
/// ```
/// let mut out = Vec::new();
/// minijwt::base64url::decode_into(b"aGk", &mut out).unwrap();
/// assert_eq!(out, b"hi");
/// ```
pub fn decode_into(text: &[u8], out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let Some(len) = decoded_len(text.len()) else {
        return Err(explain(text));
    };
    let start = out.len();
    out.resize(start + len, 0);
    let bytes = &mut out[start..];

    // Valid characters only ever set the low 24 bits of a group; an invalid
    // one sets all 32. ORing every group into `seen` replaces a branch per
    // character with one test at the end; `explain` then says what was wrong.
    let mut seen = 0u32;
    let (groups, tail) = text.split_at(text.len() / 4 * 4);
    let (whole, last) = bytes.split_at_mut(groups.len() / 4 * 3);
    for (quad, triple) in groups.chunks_exact(4).zip(whole.chunks_exact_mut(3)) {
        let n = SHIFTED[0][quad[0] as usize]
            | SHIFTED[1][quad[1] as usize]
            | SHIFTED[2][quad[2] as usize]
            | SHIFTED[3][quad[3] as usize];
        seen |= n;
        triple.copy_from_slice(&n.to_be_bytes()[1..]);
    }
    // A final group of 2 or 3 characters carries 1 or 2 bytes; the bits
    // left over in its last character must be zero (RFC 4648 §3.5).
    let n = tail
        .iter()
        .zip(&SHIFTED)
        .fold(0, |n, (&c, table)| n | table[c as usize]);
    seen |= n;
    last.copy_from_slice(&n.to_be_bytes()[1..1 + last.len()]);
    let unused_bits = match tail.len() {
        2 => n & 0x00_FFFF,
        3 => n & 0x00_00FF,
        _ => 0,
    };

    if seen >> 24 != 0 || unused_bits != 0 {
        out.truncate(start);
        return Err(explain(text));
    }
    Ok(())
}

/// Says why `text` is not canonical base64url, in the order a reader would
/// meet the faults: the first byte outside the alphabet, then a length of 1
/// modulo 4, then non-zero unused bits.
fn explain(text: &[u8]) -> DecodeError {
    match text
        .iter()
        .position(|&byte| SHIFTED[3][byte as usize] == u32::MAX)
    {
        Some(index) => DecodeError::InvalidByte {
            index,
            byte: text[index],
        },
        None if text.len() % 4 == 1 => DecodeError::InvalidLength { len: text.len() },
        None => DecodeError::NonZeroTrailingBits,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors_without_padding() {
        let cases: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
        ];
        for (bytes, text) in cases {
            assert_eq!(encode(bytes), text);
            assert_eq!(decode(text).unwrap(), bytes);
        }
    }

    #[test]
    fn url_safe_alphabet_both_ways() {
        assert_eq!(encode(&[0xfb, 0xef, 0xbe]), "----");
        assert_eq!(encode(&[0xff, 0xff, 0xff]), "____");
        assert_eq!(decode("-_-_").unwrap(), [0xfb, 0xff, 0xbf]);
    }

    #[test]
    fn rejects_padding_standard_alphabet_and_whitespace() {
        for bad in ["Zg==", "Zm8=", "+w", "/w", "Zm 9v", "Zm9v\n", " Zm9v", "Zm9v\t"] {
            assert!(
                matches!(decode(bad), Err(DecodeError::InvalidByte { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_impossible_length() {
        assert_eq!(decode("Z"), Err(DecodeError::InvalidLength { len: 1 }));
        assert_eq!(decode("Zm9vY"), Err(DecodeError::InvalidLength { len: 5 }));
    }

    #[test]
    fn rejects_non_zero_trailing_bits() {
        // "Zg" is 'f'; "Zh".."Zv" decode to 'f' too in lenient decoders.
        assert_eq!(decode("Zh"), Err(DecodeError::NonZeroTrailingBits));
        // "Zm8" is "fo"; "Zm9" sets one of the two unused bits.
        assert_eq!(decode("Zm9"), Err(DecodeError::NonZeroTrailingBits));
    }

    #[test]
    fn rejects_non_ascii() {
        assert_eq!(
            decode("Zm9vé"),
            Err(DecodeError::InvalidByte { index: 4, byte: 0xC3 })
        );
        assert!(matches!(
            decode("Zmé"),
            Err(DecodeError::InvalidByte { index: 2, .. })
        ));
    }
}
