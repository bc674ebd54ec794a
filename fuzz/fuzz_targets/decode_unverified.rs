//! `dangerous::decode_unverified` on arbitrary input: never panics, and what it
//! returns is the input taken apart, nothing added or lost.
//!
//! Two input modes:
//! - any bytes: the token text itself (lossily made UTF-8);
//! - a 0x00 byte, then `header 0x00 payload 0x00 signature`: raw bytes that
//!   are base64url-encoded here, so the JSON checks are reached directly.

#![no_main]

use libfuzzer_sys::fuzz_target;
use minijwt::{base64url, dangerous};

fuzz_target!(|data: &[u8]| {
    let token = match data.split_first() {
        Some((0, rest)) => {
            let mut parts = rest.splitn(3, |&b| b == 0);
            let encoded: Vec<String> = (0..3)
                .map(|_| base64url::encode(parts.next().unwrap_or_default()))
                .collect();
            encoded.join(".")
        }
        _ => String::from_utf8_lossy(data).into_owned(),
    };

    let Ok(unverified) = dangerous::decode_unverified(&token) else {
        return;
    };

    let segments = unverified.segments();
    assert_eq!(segments.join("."), token, "segments do not rebuild the token");
    assert_eq!(
        unverified.signing_input(),
        format!("{}.{}", segments[0], segments[1])
    );
    assert_eq!(
        base64url::decode(segments[2]).as_deref(),
        Ok(unverified.signature()),
        "signature bytes are not the decoded third segment"
    );
    assert!(unverified.header().is_object(), "header is not an object");
    assert!(unverified.claims().is_object(), "claims are not an object");
    for (segment, json) in [
        (segments[0], unverified.header()),
        (segments[1], unverified.claims()),
    ] {
        // Every member made it into the JSON value: re-reading the segment
        // as JSON gives the same value.
        let bytes = base64url::decode(segment).expect("accepted segment is base64url");
        let again: serde_json::Value = serde_json::from_slice(&bytes).expect("accepted segment is JSON");
        assert_eq!(&again, json);
    }
});
