//! The request-head parser of minijwt's tiny_http fork, against `httparse`
//! (a strict parser written by others, used by hyper): whatever httparse
//! refuses, we refuse; where both accept, they read the same method, target,
//! version and headers, and our body length is the one a plain reading of
//! the `Content-Length` rules gives. We may refuse more (bare LF, obs-text,
//! ambiguous framing, `Transfer-Encoding`): that is the point of being strict.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tiny_http::head::{find_end, parse};
use tiny_http::Limits;

fuzz_target!(|data: &[u8]| {
    let limits = Limits::default();
    // As the connection does: empty lines before the request line are skipped,
    // and a head is never longer than max_head.
    let mut input = data;
    while let Some(rest) = input.strip_prefix(b"\r\n") {
        input = rest;
    }
    if input.len() > limits.max_head {
        return;
    }

    let found = find_end(input, 0);
    // Scanning in two steps, as bytes arrive, finds the same end.
    let cut = data.len() % (input.len() + 1);
    if let Ok(None) = find_end(&input[..cut], 0) {
        assert_eq!(find_end(input, cut), found, "resumed scan at {cut}");
    }

    let mut slots = [httparse::EMPTY_HEADER; 100];
    let mut reference = httparse::Request::new(&mut slots);
    let len = match found {
        Err(_) => return,
        Ok(None) => {
            // No empty line yet: httparse cannot have a complete head either.
            assert!(
                !matches!(reference.parse(input), Ok(httparse::Status::Complete(_))),
                "httparse found a head we did not"
            );
            return;
        }
        Ok(Some(len)) => len,
    };
    let head = &input[..len];
    let ours = parse(head, &limits);
    let theirs = reference.parse(head);
    let Ok(httparse::Status::Complete(their_len)) = theirs else {
        assert!(ours.is_err(), "httparse refused {theirs:?}, we accepted {ours:?}");
        return;
    };
    let Ok(ours) = ours else { return };
    assert_eq!(their_len, len);
    assert_eq!(Some(ours.method.as_str()), reference.method);
    assert_eq!(Some(ours.target.as_str()), reference.path);
    assert_eq!(Some(ours.version.1), reference.version);
    assert_eq!(ours.headers.len(), reference.headers.len());
    for (mine, theirs) in ours.headers.iter().zip(reference.headers.iter()) {
        assert_eq!(mine.field.as_str().as_str(), theirs.name);
        assert_eq!(mine.value.as_bytes(), trim(theirs.value));
    }
    assert_eq!(ours.content_length, reference_length(reference.headers));
});

/// The body length by the plain rule: no `Content-Length` is 0, one with
/// only digits is that number. (Anything else must have been refused.)
fn reference_length(headers: &[httparse::Header<'_>]) -> u64 {
    let lengths: Vec<_> = headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("content-length"))
        .collect();
    assert!(lengths.len() <= 1, "two Content-Length accepted");
    assert!(
        !headers.iter().any(|h| h.name.eq_ignore_ascii_case("transfer-encoding")),
        "Transfer-Encoding accepted"
    );
    let Some(length) = lengths.first() else { return 0 };
    let digits = trim(length.value);
    assert!(!digits.is_empty() && digits.iter().all(u8::is_ascii_digit));
    std::str::from_utf8(digits)
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(u64::MAX)
}

fn trim(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}
