//! Differential test of `minijwt::base64url` against the `base64` crate.
//!
//! Reference: `URL_SAFE_NO_PAD` (RFC 4648 §5 alphabet, no padding written,
//! padding refused, non-zero trailing bits refused), both the scalar engine and
//! the SIMD one. Ours must be exactly canonical: it accepts a string iff the
//! reference decodes it *and* re-encoding gives the string back; and since
//! the reference is that strict too, iff the reference decodes it.
//!
//! 1. The input as text: decode with both; same verdict, same bytes; our
//!    error points at the byte it blames.
//! 2. The input as bytes: encode with both; same text; our decode inverts it;
//!    the length helpers agree.

#![no_main]

use base64::engine::general_purpose::{NO_PAD, URL_SAFE_NO_PAD};
use base64::engine::Simd;
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use minijwt::base64url::{self, DecodeError};
use std::sync::LazyLock;

static SIMD_URL_SAFE_NO_PAD: LazyLock<Simd> = LazyLock::new(|| Simd::url_safe(NO_PAD));

fn is_alphabet(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

fuzz_target!(|data: &[u8]| {
    // 1. Decoding: `decode_into` takes bytes, so non-UTF-8 input is covered.
    let mut ours = Vec::new();
    let ours = base64url::decode_into(data, &mut ours).map(|()| ours);
    let theirs = URL_SAFE_NO_PAD.decode(data);
    let theirs_simd = SIMD_URL_SAFE_NO_PAD.decode(data);
    assert_eq!(
        theirs.as_ref().ok(),
        theirs_simd.as_ref().ok(),
        "base64 scalar and SIMD engines disagree"
    );
    let canonical = theirs
        .as_ref()
        .is_ok_and(|bytes| URL_SAFE_NO_PAD.encode(bytes).as_bytes() == data);
    assert_eq!(
        ours.is_ok(),
        canonical,
        "verdicts differ: ours {ours:?}, base64 crate {theirs:?}"
    );
    // Stronger, and a claim about the reference: `URL_SAFE_NO_PAD` refuses
    // padding and non-zero trailing bits by default, so it accepts only
    // canonical text too. A failure here with the line above passing would
    // mean the base64 crate is the lenient one.
    assert_eq!(
        ours.is_ok(),
        theirs.is_ok(),
        "base64 crate accepts non-canonical {data:?}"
    );
    match &ours {
        Ok(bytes) => {
            assert_eq!(Ok(bytes), theirs.as_ref());
            assert_eq!(base64url::decoded_len(data.len()), Some(bytes.len()));
        }
        Err(DecodeError::InvalidByte { index, byte }) => {
            assert_eq!(data[*index], *byte, "error names the wrong byte");
            assert!(!is_alphabet(*byte), "error blames a valid character");
            assert!(
                data[..*index].iter().all(|&b| is_alphabet(b)),
                "an earlier bad byte was missed"
            );
        }
        Err(DecodeError::InvalidLength { len }) => {
            assert_eq!(*len, data.len());
            assert_eq!(len % 4, 1);
            assert!(data.iter().all(|&b| is_alphabet(b)));
        }
        Err(DecodeError::NonZeroTrailingBits) => {
            assert!(data.iter().all(|&b| is_alphabet(b)));
            assert!(matches!(data.len() % 4, 2 | 3));
        }
        Err(other) => panic!("new DecodeError variant: {other:?}"),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        assert_eq!(base64url::decode(text), ours, "decode and decode_into differ");
    }

    // 2. Encoding the input as bytes.
    let encoded = base64url::encode(data);
    assert_eq!(encoded, URL_SAFE_NO_PAD.encode(data));
    assert_eq!(encoded, SIMD_URL_SAFE_NO_PAD.encode(data));
    assert_eq!(encoded.len(), base64url::encoded_len(data.len()));
    assert_eq!(base64url::decoded_len(encoded.len()), Some(data.len()));
    assert_eq!(base64url::decode(&encoded).as_deref(), Ok(data));
    let mut appended = String::from("prefix.");
    base64url::encode_into(data, &mut appended);
    assert_eq!(appended.strip_prefix("prefix."), Some(encoded.as_str()));
});
