//! Raw bytes on a connection: what a request looks like on the wire, a
//! reply read back, and for the transport tests every byte the server sent
//! until it closed, cut into responses.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use minijwt::http::Request;

use super::Reply;

/// How long a conversation may take before the server is deemed stuck.
pub const PATIENCE: Duration = Duration::from_secs(5);

/// A request as the client sends it: HTTP/1.1, `Connection: close`, its
/// headers, and a `Content-Length` for its body (even an empty one).
pub fn bytes_of(request: &Request) -> Vec<u8> {
    let mut bytes = format!(
        "{} {} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n",
        request.method, request.path
    );
    for (name, value) in &request.headers {
        bytes.push_str(&format!("{name}: {value}\r\n"));
    }
    bytes.push_str(&format!("Content-Length: {}\r\n\r\n", request.body.len()));
    let mut bytes = bytes.into_bytes();
    bytes.extend_from_slice(&request.body);
    bytes
}

/// A new connection that waits at most 10 s for a read, with Nagle off.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.set_nodelay(true).unwrap();
    stream
}

/// Reads one response from a buffered connection: its head, then a body of
/// its Content-Length. A connection that ends before the whole response is
/// an error.
pub fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let cut_short = || std::io::Error::new(ErrorKind::UnexpectedEof, "the response was cut short");
    let bad = |what: String| std::io::Error::new(ErrorKind::InvalidData, what);
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Err(cut_short());
    }
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Err(cut_short());
        }
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed
            .split_once(':')
            .ok_or_else(|| bad(format!("bad header line {trimmed:?}")))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length = match headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
    {
        Some((_, v)) => v.parse().map_err(|_| bad(format!("bad Content-Length {v:?}")))?,
        None => 0,
    };
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Reply::new(status, headers, body).map_err(bad)
}

/// Sends raw bytes on a new connection and reads one response; an error if
/// the connection broke first.
pub fn try_raw(addr: SocketAddr, bytes: &[u8]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.write_all(bytes)?;
    read_reply(&mut BufReader::new(stream))
}

/// Sends raw bytes on a new connection and reads one response.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    try_raw(addr, bytes).unwrap()
}

/// All the server sent on one connection, and whether it closed it.
pub struct Received {
    pub bytes: Vec<u8>,
    /// End of stream or a reset; false if it was still open when time was up.
    pub closed: bool,
}

/// Reads until the server closes the connection or `within` has passed.
pub fn read_until_closed(stream: &mut TcpStream, within: Duration) -> Received {
    let deadline = Instant::now() + within;
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Received { bytes, closed: false };
        }
        match stream.read(&mut buffer) {
            Ok(0) => return Received { bytes, closed: true },
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Received { bytes, closed: false }
            }
            // A reset: the server closed with bytes of ours unread.
            Err(_) => return Received { bytes, closed: true },
        }
    }
}

/// What the client does once its request is written.
#[derive(Clone, Copy)]
pub enum Then {
    /// Keeps its side open: the server must close by itself.
    KeepOpen,
    /// Shuts its sending side: the request is all there is.
    ShutWrite,
}

/// Sends `request` on a new connection and collects what comes back until
/// the server closes, for at most [`PATIENCE`].
pub fn converse(addr: SocketAddr, request: &[u8], then: Then) -> Received {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    // The server may refuse a request half read: what it says is the test.
    let _ = stream.write_all(request);
    if let Then::ShutWrite = then {
        let _ = stream.shutdown(Shutdown::Write);
    }
    read_until_closed(&mut stream, PATIENCE)
}

/// Sends `head` and then `body` from another thread (ignoring write errors:
/// the server may close first, and reading meanwhile keeps its answer from
/// being lost to a reset), and collects what comes back until the server
/// closes, for at most 20 s.
pub fn send_while_reading(addr: SocketAddr, head: &[u8], body: Vec<u8>) -> Received {
    let mut stream = TcpStream::connect(addr).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = head.to_vec();
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(&head);
        let _ = writer.write_all(&body);
    });
    let received = read_until_closed(&mut stream, Duration::from_secs(20));
    let _ = sender.join();
    received
}

/// One response as it came on the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The status line and headers, on one line for messages.
    pub head: String,
}

/// Splits what a server sent into responses, each body by its
/// Content-Length (one without runs to the end); an error if the bytes are
/// not a sequence of whole responses.
pub fn answers(mut bytes: &[u8]) -> Result<Vec<Answer>, String> {
    let mut all = Vec::new();
    while !bytes.is_empty() {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or_else(|| format!("a response head cut short: {}", show(bytes)))?;
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head
            .strip_prefix("HTTP/1.")
            .and_then(|rest| rest.get(1..5)?.strip_prefix(' ')?.parse().ok())
            .ok_or_else(|| format!("not a status line: {}", show(bytes)))?;
        let length = head.lines().skip(1).find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("Content-Length")
                .then(|| value.trim().parse::<usize>().ok())?
        });
        let rest = &bytes[end + 4..];
        // A response without Content-Length is taken to run to the end of
        // the stream: it swallows whatever follows, so a second response
        // after it would go uncounted. The "exactly one response" checks
        // built on this rely on the server's refusals carrying a
        // Content-Length (they all do today).
        let length = length.unwrap_or(rest.len());
        if rest.len() < length {
            return Err(format!("a body cut short: {}", show(bytes)));
        }
        all.push(Answer {
            status,
            head: head.replace("\r\n", " | "),
        });
        bytes = &rest[length..];
    }
    Ok(all)
}

/// The one response a conversation must consist of, the server having
/// closed after it; else what went wrong.
pub fn the_one_answer(received: &Received) -> Result<Answer, String> {
    let mut all = answers(&received.bytes)?;
    match (all.len(), received.closed) {
        (1, true) => Ok(all.remove(0)),
        (0, false) => Err(format!("no response in {PATIENCE:?}")),
        (0, true) => Err("closed without a response".to_owned()),
        (1, false) => Err(format!(
            "the connection still open {PATIENCE:?} after {}",
            show(&received.bytes)
        )),
        (n, _) => Err(format!("{n} responses: {}", show(&received.bytes))),
    }
}

/// The status of the one response of a conversation (see
/// [`the_one_answer`]), if it is one of `wanted`; else what went wrong.
pub fn status_among(received: &Received, wanted: &[u16]) -> Result<u16, String> {
    let answer = the_one_answer(received)?;
    match wanted.contains(&answer.status) {
        true => Ok(answer.status),
        false => Err(format!("{} (wanted {wanted:?})", answer.head)),
    }
}

/// Verdicts as a table for a message, one per line.
pub fn table(verdicts: &[(String, Result<u16, String>)]) -> String {
    verdicts
        .iter()
        .map(|(case, verdict)| format!("\n  {case}: {verdict:?}"))
        .collect()
}

/// The bytes as text for a message, cut at 300 characters.
pub fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes).escape_debug().to_string();
    match text.char_indices().nth(300) {
        Some((cut, _)) => format!("\"{}…\" ({} bytes)", &text[..cut], bytes.len()),
        None if text.is_empty() => "nothing".to_owned(),
        None => format!("\"{text}\""),
    }
}

/// `GET /healthz` on a new connection: how long the answer (a 200) took,
/// or what went wrong. Gives up after 2 s: the tests that time it want it
/// within 1 s.
pub fn healthz(addr: SocketAddr) -> Result<Duration, String> {
    let patience = Duration::from_secs(2);
    let started = Instant::now();
    let mut stream = TcpStream::connect_timeout(&addr, patience).map_err(|e| format!("connect: {e}"))?;
    stream.set_write_timeout(Some(patience)).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let received = read_until_closed(&mut stream, patience.saturating_sub(started.elapsed()));
    let took = started.elapsed();
    match answers(&received.bytes).as_deref() {
        Ok([answer]) if answer.status == 200 => Ok(took),
        _ => Err(format!("{} after {took:?}", show(&received.bytes))),
    }
}
