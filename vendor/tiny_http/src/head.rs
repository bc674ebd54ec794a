//! The request head: found in the connection's buffer, then parsed strictly
//! (RFC 9112). Pure functions over bytes, no I/O: the connection loop calls
//! them, and the fuzz target compares them with another parser.
//!
//! Strict means: one way to read each message. Whatever a proxy in front of
//! us could frame differently (a list or a repeat of `Content-Length`, one
//! together with `Transfer-Encoding`, a bare LF, an obs-fold, whitespace
//! before a colon, a control byte in a value) is refused with 400, and the
//! connection closes, since where the next request would start is unknown.

use ascii::AsciiString;

use crate::common::{HTTPVersion, Header, HeaderField, Method};
use crate::{Limits, Refusal};

/// A parsed request head and what it says about framing.
#[derive(Debug, Clone)]
pub struct Head {
    /// The method, a token.
    pub method: Method,
    /// The request target as sent (origin-form, absolute-form, `*`, ...).
    pub target: String,
    /// 1.0 or 1.1: other versions are refused.
    pub version: HTTPVersion,
    /// The header fields, in order, values without surrounding whitespace.
    pub headers: Vec<Header>,
    /// The body's length: `Content-Length`, or 0 without one.
    pub content_length: u64,
    /// The client asked to close the connection after this request (or
    /// spoke HTTP/1.0 without asking to keep it).
    pub close: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

/// Finds the end of a request head in `buf`: the index just past the empty
/// line. `from` is where the previous call stopped (0 at first), so a head
/// that trickles in is scanned once, not once per byte received.
///
/// Refuses a bare LF at once: a head with one would otherwise wait for a
/// CRLF CRLF that never comes.
///
/// ```
/// # use tiny_http::head::find_end;
/// assert_eq!(find_end(b"GET / HTTP/1.1\r\n\r\nrest", 0), Ok(Some(18)));
/// assert_eq!(find_end(b"GET / HTTP/1.1\r\nHost: a", 0), Ok(None));
/// assert!(find_end(b"GET / HTTP/1.1\n\n", 0).is_err());
/// ```
pub fn find_end(buf: &[u8], from: usize) -> Result<Option<usize>, Refusal> {
    let mut at = from;
    while let Some(offset) = buf[at..].iter().position(|&b| b == b'\n') {
        let lf = at + offset;
        if lf == 0 || buf[lf - 1] != b'\r' {
            return Err(Refusal::BadRequest("a line ends in a bare LF"));
        }
        if lf >= 3 && &buf[lf - 3..lf - 1] == b"\r\n" {
            return Ok(Some(lf + 1));
        }
        at = lf + 1;
    }
    Ok(None)
}

/// Parses a complete head (request line, header lines, the empty line).
///
/// ```
/// # use tiny_http::{head::parse, Limits, Refusal};
/// let head = parse(b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n", &Limits::default()).unwrap();
/// assert_eq!((head.target.as_str(), head.content_length, head.close), ("/login", 2, false));
/// let twice = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n";
/// assert!(matches!(parse(twice, &Limits::default()), Err(Refusal::BadRequest(_))));
/// ```
pub fn parse(head: &[u8], limits: &Limits) -> Result<Head, Refusal> {
    if !head.ends_with(b"\r\n\r\n") {
        return Err(Refusal::BadRequest("the head does not end in an empty line"));
    }
    // Without the empty line, every line ends in exactly one CRLF: exactly
    // that is cut, so a stray CR before it stays in the line and is refused.
    let lines_part = &head[..head.len() - 2];
    let mut lines = lines_part
        .split_inclusive(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r\n").unwrap_or(line));
    let request_line = lines.next().unwrap_or_default();
    let (method, target, version) = request_line_parts(request_line, limits)?;

    let mut headers = Vec::new();
    for line in lines {
        if headers.len() == limits.max_headers {
            return Err(Refusal::HeadTooLarge);
        }
        headers.push(header_line(line)?);
    }

    // RFC 9112 §3.2: an HTTP/1.1 request has exactly one Host; a 1.0 one
    // at most one.
    match headers.iter().filter(|h| h.field.equiv("Host")).count() {
        0 if version == HTTPVersion(1, 1) => {
            return Err(Refusal::BadRequest("an HTTP/1.1 request needs a Host header"))
        }
        0 | 1 => {}
        _ => return Err(Refusal::BadRequest("more than one Host header")),
    }
    let framing = framing(&headers, version)?;
    let connection = tokens_of(&headers, "Connection");
    let has = |token: &str| connection.iter().any(|t| t.eq_ignore_ascii_case(token));
    let close = has("close") || (version == HTTPVersion(1, 0) && !has("keep-alive"));

    // RFC 9110 §10.1.1: an HTTP/1.0 request's Expect is ignored (no 1.0
    // client waits for a 100 Continue).
    let mut expect_continue = false;
    if version == HTTPVersion(1, 1) {
        for expectation in tokens_of(&headers, "Expect") {
            if !expectation.eq_ignore_ascii_case("100-continue") {
                return Err(Refusal::ExpectationFailed);
            }
            expect_continue = true;
        }
    }

    Ok(Head {
        method,
        target,
        version,
        headers,
        content_length: framing,
        close,
        expect_continue,
    })
}

/// `method SP request-target SP HTTP-version`, single spaces, nothing else.
fn request_line_parts(line: &[u8], limits: &Limits) -> Result<(Method, String, HTTPVersion), Refusal> {
    let bad = Refusal::BadRequest("the request line is malformed");
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad);
    };
    let version = match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            HTTPVersion(major - b'0', minor - b'0')
        }
        _ => return Err(bad),
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad);
    }
    if method.len() > limits.max_method {
        return Err(Refusal::MethodTooLong);
    }
    if target.len() > limits.max_target {
        return Err(Refusal::TargetTooLong);
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(bad);
    }
    if version != HTTPVersion(1, 0) && version != HTTPVersion(1, 1) {
        return Err(Refusal::VersionNotSupported);
    }
    // Every byte was checked to be visible ASCII above.
    let method = std::str::from_utf8(method)
        .ok()
        .and_then(|m| m.parse().ok())
        .ok_or(bad)?;
    let target = String::from_utf8(target.to_vec()).map_err(|_| bad)?;
    Ok((method, target, version))
}

/// `field-name ":" OWS field-value OWS`, the value visible ASCII, spaces
/// and tabs only.
fn header_line(line: &[u8]) -> Result<Header, Refusal> {
    if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
        return Err(Refusal::BadRequest("a header line is folded (obs-fold)"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or(Refusal::BadRequest("a header line has no colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return Err(Refusal::BadRequest(
            "a header name is not a token (whitespace before the colon?)",
        ));
    }
    let value = trim_ows(value);
    if !value
        .iter()
        .all(|&b| b.is_ascii_graphic() || b == b' ' || b == b'\t')
    {
        return Err(Refusal::BadRequest(
            "a header value holds a control or non-ASCII byte",
        ));
    }
    let bad = || Refusal::BadRequest("a header is not ASCII");
    Ok(Header {
        field: HeaderField::from_bytes(name.to_vec()).map_err(|_| bad())?,
        value: AsciiString::from_ascii(value.to_vec()).map_err(|_| bad())?,
    })
}

/// RFC 9112 §6: the body's length, from exactly one all-digit
/// `Content-Length`, or none. A `Transfer-Encoding` is refused: with a
/// `Content-Length` or a last coding other than chunked as ambiguous (400),
/// and chunked bodies with 411, since this server reads only bodies whose
/// length it knows before it starts (see docs: none of its clients needs
/// more, and a chunk-size line is one more thing to bound).
fn framing(headers: &[Header], version: HTTPVersion) -> Result<u64, Refusal> {
    let mut lengths = headers.iter().filter(|h| h.field.equiv("Content-Length"));
    let length = match (lengths.next(), lengths.next()) {
        (None, _) => None,
        (Some(_), Some(_)) => return Err(Refusal::BadRequest("more than one Content-Length header")),
        (Some(h), None) => Some(content_length(h.value.as_bytes())?),
    };
    let codings = tokens_of(headers, "Transfer-Encoding");
    if codings.is_empty() && !headers.iter().any(|h| h.field.equiv("Transfer-Encoding")) {
        return Ok(length.unwrap_or(0));
    }
    if length.is_some() {
        return Err(Refusal::BadRequest("both Content-Length and Transfer-Encoding"));
    }
    if version == HTTPVersion(1, 0) {
        return Err(Refusal::BadRequest("Transfer-Encoding in an HTTP/1.0 request"));
    }
    match codings.last() {
        Some(last) if last.eq_ignore_ascii_case("chunked") => Err(Refusal::LengthRequired),
        _ => Err(Refusal::BadRequest("the last transfer coding is not chunked")),
    }
}

/// `1*DIGIT`; a number too large for u64 is kept as u64::MAX (too large for
/// any limit), not refused as malformed.
fn content_length(value: &[u8]) -> Result<u64, Refusal> {
    if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
        return Err(Refusal::BadRequest("Content-Length is not a single number"));
    }
    Ok(value.iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    }))
}

/// The comma-separated elements of every field named `name`, trimmed,
/// empty elements skipped (RFC 9110 §5.6.1).
fn tokens_of<'h>(headers: &'h [Header], name: &'static str) -> Vec<&'h str> {
    headers
        .iter()
        .filter(|h| h.field.equiv(name))
        .flat_map(|h| h.value.as_str().split(','))
        .map(|t| t.trim_matches(|c| c == ' ' || c == '\t'))
        .filter(|t| !t.is_empty())
        .collect()
}

fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// RFC 9110 §5.6.2: the characters of a token.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The head with a `Host` after its request line (HTTP/1.1 needs one),
    /// unless it names one already.
    fn with_host(head: &str) -> String {
        match (head.contains("Host"), head.find("\r\n")) {
            (false, Some(end)) => format!("{}\r\nHost: t{}", &head[..end], &head[end..]),
            _ => head.to_owned(),
        }
    }

    fn parse_ok(head: &str) -> Head {
        parse(with_host(head).as_bytes(), &Limits::default()).unwrap()
    }

    fn refusal(head: &str) -> Refusal {
        parse(with_host(head).as_bytes(), &Limits::default()).unwrap_err()
    }

    #[test]
    fn host_is_required_once_in_http_1_1() {
        let parse = |head: &str| parse(head.as_bytes(), &Limits::default());
        assert!(matches!(
            parse("GET / HTTP/1.1\r\n\r\n"),
            Err(Refusal::BadRequest(_))
        ));
        assert!(matches!(
            parse("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n"),
            Err(Refusal::BadRequest(_))
        ));
        assert!(parse("GET / HTTP/1.0\r\n\r\n").is_ok());
        assert!(parse("GET / HTTP/1.1\r\nHost: a\r\n\r\n").is_ok());
    }

    #[test]
    fn a_plain_request() {
        let head = parse_ok("GET /me?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization:  Bearer t \r\n\r\n");
        assert_eq!(head.method, Method::Get);
        assert_eq!(head.target, "/me?x=1");
        assert_eq!(head.headers[1].value.as_str(), "Bearer t");
        assert!(!head.close && !head.expect_continue);
        assert_eq!(head.content_length, 0);
    }

    #[test]
    fn keep_alive_follows_the_version_and_connection() {
        assert!(parse_ok("GET / HTTP/1.0\r\n\r\n").close);
        assert!(!parse_ok("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").close);
        assert!(parse_ok("GET / HTTP/1.1\r\nConnection: te, close\r\n\r\n").close);
    }

    #[test]
    fn ambiguous_framing_is_a_400() {
        for head in [
            "POST / HTTP/1.1\r\nContent-Length: 40, 40\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 0x2a\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: +40\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 0\r\nContent-Length: 40\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: \r\n\r\n",
            "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n",
            "GET / HTTP/1.1\r\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: caf\u{e9}\r\n\r\n",
            "GET / HTTP/1.1\r\n: empty name\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET  / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 \r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET /a\x7fb HTTP/1.1\r\n\r\n",
        ] {
            assert!(matches!(refusal(head), Refusal::BadRequest(_)), "{:?}", head);
        }
    }

    #[test]
    fn chunked_bodies_are_411_and_other_versions_505() {
        assert_eq!(
            refusal("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Refusal::LengthRequired
        );
        for version in ["HTTP/2.0", "HTTP/3.0", "HTTP/1.2", "HTTP/0.9"] {
            assert_eq!(
                refusal(&format!("GET / {version}\r\n\r\n")),
                Refusal::VersionNotSupported
            );
        }
    }

    #[test]
    fn limits_on_the_target_and_the_header_count() {
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(8 * 1024));
        assert_eq!(refusal(&long), Refusal::TargetTooLong);
        let fits = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(8 * 1024 - 1));
        assert_eq!(parse_ok(&fits).target.len(), 8 * 1024);
        let many = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(101));
        assert_eq!(refusal(&many), Refusal::HeadTooLarge);
        let method = format!("{} / HTTP/1.1\r\n\r\n", "M".repeat(33));
        assert_eq!(refusal(&method), Refusal::MethodTooLong);
        assert_eq!(
            parse_ok(&format!("{} / HTTP/1.1\r\n\r\n", "M".repeat(32)))
                .method
                .as_str()
                .len(),
            32
        );
    }

    #[test]
    fn expectations() {
        assert!(parse_ok("POST / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n").expect_continue);
        assert_eq!(
            refusal("POST / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n"),
            Refusal::ExpectationFailed
        );
        let old = parse_ok("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n");
        assert!(!old.expect_continue);
    }

    #[test]
    fn a_huge_length_is_kept_as_huge() {
        let head = parse_ok("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n");
        assert_eq!(head.content_length, u64::MAX);
    }

    #[test]
    fn the_end_is_found_across_reads() {
        let whole = b"GET / HTTP/1.1\r\nA: b\r\n\r\n";
        for cut in 0..whole.len() {
            assert_eq!(find_end(&whole[..cut], 0), Ok(None), "{}", cut);
            // Scanning resumes where the previous call stopped.
            assert_eq!(find_end(whole, cut), Ok(Some(whole.len())), "{}", cut);
        }
        assert!(find_end(b"GET / HTTP/1.1\r\nA: b\n", 0).is_err());
    }
}
