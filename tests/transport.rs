//! The HTTP transport, black box: unsupported versions, ambiguous framing
//! (request smuggling), over-long request targets, clients that never read
//! their responses, and bodies that never end or trickle in. One test per
//! finding of the transport review, against the real server in this process.
//!
//! Like `tests/connections.rs`, some tests count this process's threads,
//! descriptors and memory, which other tests running beside them would
//! disturb, so all take turns (`common::take_turn`). The server under test may
//! deadlock or stop reading, so every read here has a timeout and every loop
//! a deadline: a broken server fails a test, it never hangs the run. Each test
//! gathers its observations, lets go of its connections and stops its server
//! before asserting, so that a failure leaves nothing behind to disturb the
//! next test, and prints what it saw (shown with a failure, or with
//! `--nocapture`).

use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod common;
use common::*;

/// What a /healthz may take beside hostile clients.
const PROMPT: Duration = Duration::from_secs(1);

/// The most this process's memory may grow beside one hostile client.
const MEMORY_BOUND_KB: usize = 32 * 1024;

/// Asks for /healthz every 200 ms, each on a new connection, for
/// `how_long`; returns every outcome.
fn watch_healthz(addr: SocketAddr, how_long: Duration) -> Vec<Result<Duration, String>> {
    let until = Instant::now() + how_long;
    let mut checks = Vec::new();
    while Instant::now() < until {
        checks.push(healthz(addr));
        std::thread::sleep(Duration::from_millis(200));
    }
    checks
}

/// The checks that were not answered 200 within [`PROMPT`].
fn slow(checks: &[Result<Duration, String>]) -> Vec<String> {
    checks
        .iter()
        .enumerate()
        .filter(|(_, check)| !matches!(check, Ok(took) if *took < PROMPT))
        .map(|(i, check)| format!("#{i}: {check:?}"))
        .collect()
}

/// A line for the log: how many checks, how many slow, the slowest.
fn summary(checks: &[Result<Duration, String>]) -> String {
    let slowest = checks.iter().filter_map(|c| c.as_ref().ok()).max();
    format!(
        "{} /healthz, {} not within {PROMPT:?}, slowest answered {slowest:?}",
        checks.len(),
        slow(checks).len()
    )
}

/// How a writer that never reads ended.
enum PumpEnd {
    AllSent,
    /// Its time was up, the server no longer reading but not closing.
    GaveUp,
    /// A write failed: the server closed the connection.
    Refused(ErrorKind),
}

impl std::fmt::Display for PumpEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PumpEnd::AllSent => write!(f, "all was sent"),
            PumpEnd::GaveUp => write!(f, "the writer gave up, blocked (the server not reading)"),
            PumpEnd::Refused(kind) => write!(f, "a write failed ({kind}: the server closed)"),
        }
    }
}

/// Writes `pattern` over and over, `total` bytes in all, never reading,
/// until a write fails or `for_at_most` has passed. Returns the bytes sent
/// and why it stopped.
fn pump(mut stream: TcpStream, pattern: &[u8], total: usize, for_at_most: Duration) -> (usize, PumpEnd) {
    // Whole copies of the pattern, sent in a cycle: the stream stays a
    // sequence of patterns however the writes are cut.
    let block = pattern.repeat((64 * 1024 / pattern.len()).max(1));
    // Short, so the deadline is looked at while the server is not reading.
    stream
        .set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let deadline = Instant::now() + for_at_most;
    let (mut sent, mut at) = (0, 0);
    while sent < total {
        if Instant::now() >= deadline {
            return (sent, PumpEnd::GaveUp);
        }
        let end = block.len().min(at + (total - sent));
        match stream.write(&block[at..end]) {
            Ok(0) => return (sent, PumpEnd::Refused(ErrorKind::WriteZero)),
            Ok(n) => {
                sent += n;
                at = (at + n) % block.len();
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return (sent, PumpEnd::Refused(e.kind())),
        }
    }
    (sent, PumpEnd::AllSent)
}

/// `clients` connections that each send `head`, then `byte` every `every`,
/// until `stop` is set (or 20 s have passed). A connection the server
/// closes is opened again: the pressure on the server stays the same.
/// Returns how many times one was.
fn trickle(
    addr: SocketAddr,
    clients: usize,
    head: &[u8],
    byte: u8,
    every: Duration,
    stop: &AtomicBool,
) -> usize {
    let open = || {
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
        stream.set_write_timeout(Some(Duration::from_secs(1))).ok()?;
        stream.write_all(head).ok()?;
        Some(stream)
    };
    let mut streams: Vec<Option<TcpStream>> = (0..clients).map(|_| open()).collect();
    let mut reopened = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let next = Instant::now() + every;
        while !stop.load(Ordering::SeqCst) && Instant::now() < next {
            std::thread::sleep(Duration::from_millis(20).min(next.saturating_duration_since(Instant::now())));
        }
        for slot in &mut streams {
            // A write to a connection the server closed fails (at the
            // latest the second one, once its reset is back).
            if slot.as_mut().is_none_or(|s| s.write_all(&[byte]).is_err()) {
                *slot = open();
                reopened += 1;
            }
        }
    }
    reopened
}

/// Keeps `clients` slow clients going (see [`trickle`]) while /healthz is
/// asked for `how_long`; returns the checks and how often a client was cut
/// off and came back.
fn healthz_beside_tricklers(
    addr: SocketAddr,
    clients: usize,
    head: &[u8],
    byte: u8,
    every: Duration,
    how_long: Duration,
) -> (Vec<Result<Duration, String>>, usize) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let trickler = scope.spawn(|| trickle(addr, clients, head, byte, every, &stop));
        // Time for the heads to reach the server and take what they take.
        std::thread::sleep(Duration::from_millis(500));
        let checks = watch_healthz(addr, how_long);
        stop.store(true, Ordering::SeqCst);
        (checks, trickler.join().unwrap())
    })
}

// ---------------------------------------------------------------------------
// This process's threads, descriptors and memory.
// ---------------------------------------------------------------------------

fn rss_kb() -> usize {
    status_of_this_process("VmRSS")
}

/// Runs `f` while another thread samples this process's VmRSS every 20 ms;
/// returns what `f` returned and the highest sample, in kB.
fn peak_rss_while<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let sampler = scope.spawn(|| {
            // The deadline only matters if `f` panics and never says done.
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut peak = rss_kb();
            while !done.load(Ordering::SeqCst) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
                peak = peak.max(rss_kb());
            }
            peak
        });
        let result = f();
        done.store(true, Ordering::SeqCst);
        let peak = sampler.join().unwrap().max(rss_kb());
        (result, peak)
    })
}

// ---------------------------------------------------------------------------
// The findings.
// ---------------------------------------------------------------------------

/// An HTTP/2.0 request line is answered 505 once and the connection closed;
/// and 120 such connections, each closed at once by its client, leave no
/// thread or descriptor behind.
#[cfg(target_os = "linux")]
#[test]
fn http2_request_line_gets_one_505_and_leaks_nothing() {
    let (_turn, server, addr) = take_turn();
    let request = b"GET / HTTP/2.0\r\nHost: x\r\n\r\n";
    let before = threads_and_descriptors();

    let verdict = status_among(&converse(addr, request, Then::KeepOpen), &[505]);

    for _ in 0..120 {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_write_timeout(Some(PATIENCE)).unwrap();
        let _ = stream.write_all(request);
    }
    let after = settle(before);
    let after_healthz = healthz(addr);
    let stopped = server.stop();
    println!(
        "HTTP/2.0: {verdict:?}; 120 more: (threads, fds) {before:?} -> {after:?}; \
         /healthz then {after_healthz:?}"
    );
    assert!(verdict.is_ok(), "HTTP/2.0 request line: {verdict:?}");
    assert!(
        back_down(before, after),
        "120 HTTP/2.0 connections: (threads, descriptors) did not come back down within 15 s: \
         {before:?} -> {after:?}"
    );
    assert!(after_healthz.is_ok(), "{after_healthz:?}");
    assert!(stopped, "the server did not shut down within 10 s");
}

/// A client that pipelines ~6 MB of small requests and never reads a
/// response: the server must stop reading it (or cut it off) rather than
/// queue requests or responses without bound, and must go on answering
/// others.
#[cfg(target_os = "linux")]
#[test]
fn a_never_reading_pipeliner_costs_bounded_memory() {
    let (_turn, server, addr) = take_turn();
    let rss_before = rss_kb();
    let client = TcpStream::connect(addr).unwrap();
    let writing_end = client.try_clone().unwrap();
    let request = b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n";

    let ((pumped, checks), rss_peak) = peak_rss_while(|| {
        std::thread::scope(|scope| {
            // A server that stops reading leaves the writer blocked: it
            // gives up after 10 s.
            let writer = scope.spawn(|| pump(writing_end, request, 6 << 20, Duration::from_secs(10)));
            let checks = watch_healthz(addr, Duration::from_secs(6));
            (writer.join().unwrap(), checks)
        })
    });
    // The client still holds the connection, unread, until here.
    let rss_after = rss_kb();
    drop(client);
    let stopped = server.stop();
    let growth = rss_peak.saturating_sub(rss_before);
    println!(
        "never-reading pipeliner: sent {} bytes, then {}; {}; RSS {rss_before} kB, peak \
         {rss_peak} kB (+{growth} kB), {rss_after} kB at the end",
        pumped.0,
        pumped.1,
        summary(&checks)
    );
    let slow = slow(&checks);
    assert!(
        slow.is_empty(),
        "/healthz beside a never-reading pipeliner: {} of {} not within {PROMPT:?}: {slow:?}",
        slow.len(),
        checks.len()
    );
    assert!(
        growth < MEMORY_BOUND_KB,
        "a never-reading pipeliner grew RSS by {growth} kB ({rss_before} -> {rss_peak} kB)"
    );
    assert!(stopped, "the server did not shut down within 10 s");
}

/// Six connections each pipeline 300 requests for a ~30 KB document and
/// never read: their responses fill the socket buffers, and a worker
/// blocked writing one must not leave /healthz unanswered.
#[test]
fn never_reading_pipeliners_of_large_responses_do_not_hold_the_server() {
    let (_turn, server, addr) = take_turn();
    let pipeline = "GET /docs/how-jwt-works.md HTTP/1.1\r\nHost: x\r\n\r\n".repeat(300);
    let clients: Vec<TcpStream> = (0..6)
        .map(|_| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.set_write_timeout(Some(PATIENCE)).unwrap();
            // ~15 KB fits in the socket buffers; a server that stops
            // reading a client that does not read is within its rights.
            let _ = stream.write_all(pipeline.as_bytes());
            stream
        })
        .collect();
    let checks = watch_healthz(addr, Duration::from_secs(5));
    drop(clients);
    let stopped = server.stop();
    println!("6 never-reading pipeliners of the tutorial: {}", summary(&checks));
    let slow = slow(&checks);
    assert!(
        slow.is_empty(),
        "/healthz beside 6 never-reading pipeliners: {} of {} not within {PROMPT:?}: {slow:?}",
        slow.len(),
        checks.len()
    );
    assert!(stopped, "the server did not shut down within 10 s");
}

/// A chunked body whose first chunk-size line never ends (64 MiB of `1`s
/// offered): the server refuses it (a 4xx, or just closing) after a bounded
/// number of bytes, and its memory stays bounded.
#[cfg(target_os = "linux")]
#[test]
fn an_endless_chunk_size_line_is_refused_with_bounded_memory() {
    let (_turn, server, addr) = take_turn();
    let offered = 64 << 20;
    let rss_before = rss_kb();
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .write_all(
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\n",
        )
        .unwrap();
    let mut reading_end = stream.try_clone().unwrap();
    let started = Instant::now();
    let (((sent, end), received), rss_peak) = peak_rss_while(|| {
        std::thread::scope(|scope| {
            let writer = scope.spawn(|| pump(stream, b"1", offered, Duration::from_secs(10)));
            // Read while the writer writes: the answer may come before it stops.
            let received = read_until_closed(&mut reading_end, Duration::from_secs(15));
            (writer.join().unwrap(), received)
        })
    });
    let took = started.elapsed();
    drop(reading_end);
    let stopped = server.stop();
    let growth = rss_peak.saturating_sub(rss_before);
    println!(
        "endless chunk-size line: sent {sent} of {offered} bytes, then {end}; server sent {} \
         (closed: {}) within {took:?}; RSS {rss_before} kB, peak {rss_peak} kB (+{growth} kB)",
        show(&received.bytes),
        received.closed
    );
    assert!(
        growth < MEMORY_BOUND_KB,
        "an endless chunk-size line grew RSS by {growth} kB ({rss_before} -> {rss_peak} kB)"
    );
    // Loopback socket buffers take a few MiB after the server stops reading.
    assert!(
        matches!(end, PumpEnd::Refused(_)) && sent < offered / 2,
        "the server did not close the connection: the client sent {sent} of {offered} bytes, \
         then {end}"
    );
    assert!(received.closed, "the connection still open after {took:?}");
    if !received.bytes.is_empty() {
        let verdict = status_among(&received, &[400, 411, 413]);
        assert!(verdict.is_ok(), "an endless chunk-size line: {verdict:?}");
    }
    assert!(stopped, "the server did not shut down within 10 s");
}

/// 24 clients each send a chunked POST head and then one hex digit of its
/// chunk size a second: /healthz is still answered within 1 s.
#[test]
fn trickled_chunk_size_lines_do_not_hold_the_server() {
    let (_turn, server, addr) = take_turn();
    let head = b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Transfer-Encoding: chunked\r\n\r\n";
    let every = Duration::from_secs(1);
    let (checks, reopened) = healthz_beside_tricklers(addr, 24, head, b'1', every, Duration::from_secs(8));
    let stopped = server.stop();
    println!(
        "24 chunk-size tricklers: {}; clients cut off and reopened {reopened} times",
        summary(&checks)
    );
    let slow = slow(&checks);
    assert!(
        slow.is_empty(),
        "/healthz beside 24 chunk-size tricklers: {} of {} not within {PROMPT:?}: {slow:?}",
        slow.len(),
        checks.len()
    );
    assert!(stopped, "the server did not shut down within 10 s");
}

/// 24 clients each announce a 2,000-byte body (over the 1 KiB tiny_http
/// reads with the head, so streamed to a worker) and trickle it a byte
/// every 100 ms: /healthz is still answered within 1 s.
#[test]
fn trickled_2000_byte_bodies_do_not_hold_the_server() {
    let (_turn, server, addr) = take_turn();
    let head = b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
                 Content-Length: 2000\r\n\r\n";
    let every = Duration::from_millis(100);
    let (checks, reopened) = healthz_beside_tricklers(addr, 24, head, b' ', every, Duration::from_secs(8));
    let stopped = server.stop();
    println!(
        "24 body tricklers: {}; clients cut off and reopened {reopened} times",
        summary(&checks)
    );
    let slow = slow(&checks);
    assert!(
        slow.is_empty(),
        "/healthz beside 24 body tricklers: {} of {} not within {PROMPT:?}: {slow:?}",
        slow.len(),
        checks.len()
    );
    assert!(stopped, "the server did not shut down within 10 s");
}

/// `GET /smuggled-path` as a request of exactly `length` bytes (at least
/// 40), the Host value padded: the body of each ambiguous request below.
fn smuggled(length: usize) -> String {
    let padding = "x".repeat(length.checked_sub(40).expect("at least 40 bytes"));
    format!("GET /smuggled-path HTTP/1.1\r\nHost: x{padding}\r\n\r\n")
}

/// Requests whose framing two parsers can read two ways, each with a body
/// that is itself a request: one reading takes it for the body, the other
/// answers it as a request of its own (smuggled past a proxy that read the
/// first way). The server must refuse each with exactly one 4xx and close.
#[test]
fn ambiguous_framing_gets_exactly_one_4xx_and_no_smuggled_answer() {
    let (_turn, server, addr) = take_turn();
    // A GET /healthz is answered 200 whatever its body: a 4xx can only come
    // from the framing.
    let get = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
    let transfer_encoding: &[u16] = &[400, 411, 501];
    let cases: Vec<(&str, String, String, &[u16])> = vec![
        // A list, even of equal values, is not a length.
        (
            "Content-Length: 40, 40",
            format!("{get}Content-Length: 40, 40\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
        // Hexadecimal 42 to a lenient parser, not a number to a strict one.
        (
            "Content-Length: 0x2a",
            format!("{get}Content-Length: 0x2a\r\n\r\n"),
            smuggled(42),
            &[400],
        ),
        // Rust's integer parsing takes the sign; the grammar is 1*DIGIT.
        (
            "Content-Length: +40",
            format!("{get}Content-Length: +40\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
        // The first field to one parser, the last to another.
        (
            "Content-Length: 0 then 40",
            format!("{get}Content-Length: 0\r\nContent-Length: 40\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
        // By length the body is all 45 bytes; by chunks it ends after 5.
        (
            "Content-Length and Transfer-Encoding: chunked",
            format!("{get}Content-Length: 45\r\nTransfer-Encoding: chunked\r\n\r\n"),
            format!("0\r\n\r\n{}", smuggled(40)),
            transfer_encoding,
        ),
        // Not chunked last: the length cannot be known (RFC 9112 6.3).
        (
            "Transfer-Encoding: gzip",
            format!("{get}Transfer-Encoding: gzip\r\n\r\n"),
            format!("0\r\n\r\n{}", smuggled(40)),
            transfer_encoding,
        ),
        // A parser that ends lines at LF sees the Content-Length; one that
        // ends them at CRLF sees it inside the Host value.
        (
            "bare LF in the head",
            "GET /healthz HTTP/1.1\r\nHost: x\nContent-Length: 40\r\n\r\n".to_owned(),
            smuggled(40),
            &[400],
        ),
        // Folded, the Content-Length is part of X-Note's value; trimmed, a
        // field of its own.
        (
            "obs-fold",
            format!("{get}X-Note: a\r\n Content-Length: 40\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
        // RFC 9112 5.1: a server MUST answer 400; a lenient one trims.
        (
            "whitespace before the colon",
            format!("{get}Content-Length : 40\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
        // 40 to a parser that stops at the NUL (C strings), no number to
        // one that does not.
        (
            "NUL in a header value",
            format!("{get}Content-Length: 40\0\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
        // A lone CR ends the line for some parsers, which then see a
        // Content-Length; for others it is inside X-Note's value.
        (
            "lone CR in a header value",
            format!("{get}X-Note: a\rContent-Length: 40\r\n\r\n"),
            smuggled(40),
            &[400],
        ),
    ];
    // Side by side: a server that hangs costs PATIENCE once, not per case.
    let verdicts: Vec<(String, Result<u16, String>)> = std::thread::scope(|scope| {
        let conversations: Vec<_> = cases
            .iter()
            .map(|(name, head, body, allowed)| {
                let request = format!("{head}{body}");
                let conversation = scope.spawn(move || converse(addr, request.as_bytes(), Then::ShutWrite));
                (*name, *allowed, conversation)
            })
            .collect();
        conversations
            .into_iter()
            .map(|(name, allowed, conversation)| {
                let received = conversation.join().unwrap();
                let text = String::from_utf8_lossy(&received.bytes);
                // A second response hidden in the first one's body counts too.
                let verdict = status_among(&received, allowed).and_then(|status| {
                    match text.matches("HTTP/1.1").count() == 1 && !text.contains(" 404 ") {
                        true => Ok(status),
                        false => Err(format!("a second response: {}", show(&received.bytes))),
                    }
                });
                (name.to_owned(), verdict)
            })
            .collect()
    });
    let stopped = server.stop();
    let table = table(&verdicts);
    println!("ambiguous framing:{table}");
    assert!(
        verdicts.iter().all(|(_, verdict)| verdict.is_ok()),
        "ambiguous framing not refused with exactly one 4xx:{table}"
    );
    assert!(stopped, "the server did not shut down within 10 s");
}

/// HTTP/1.0 is served; any version above 1.1 is a 505, once, and the
/// connection closed.
#[test]
fn an_unsupported_version_is_505_and_http_1_0_still_works() {
    let (_turn, server, addr) = take_turn();
    let cases: [(&[u8], u16); 3] = [
        (b"GET /healthz HTTP/1.0\r\n\r\n", 200),
        (b"GET / HTTP/3.0\r\nHost: x\r\n\r\n", 505),
        (b"GET / HTTP/1.2\r\nHost: x\r\n\r\n", 505),
    ];
    let verdicts: Vec<(String, Result<u16, String>)> = cases
        .iter()
        .map(|(request, wanted)| {
            let line = String::from_utf8_lossy(request)
                .lines()
                .next()
                .unwrap()
                .to_owned();
            let verdict = status_among(&converse(addr, request, Then::KeepOpen), &[*wanted]);
            (line, verdict)
        })
        .collect();
    let stopped = server.stop();
    let table = table(&verdicts);
    println!("versions:{table}");
    assert!(
        verdicts.iter().all(|(_, verdict)| verdict.is_ok()),
        "versions:{table}"
    );
    assert!(stopped, "the server did not shut down within 10 s");
}

/// A request target over 8 KiB is a 414; one just under is routed as usual.
#[test]
fn a_request_target_over_8_kib_is_414() {
    let (_turn, server, addr) = take_turn();
    let status_for = |length: usize, wanted: &[u16]| {
        let request = format!(
            "GET /{} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "a".repeat(length)
        );
        status_among(&converse(addr, request.as_bytes(), Then::KeepOpen), wanted)
    };
    let (long, shorter) = (status_for(9_000, &[414]), status_for(8_000, &[200, 404]));
    let stopped = server.stop();
    println!("9,000-byte target: {long:?}; 8,000-byte target: {shorter:?}");
    assert!(long.is_ok(), "a 9,000-byte request target: {long:?}");
    assert!(shorter.is_ok(), "an 8,000-byte request target: {shorter:?}");
    assert!(stopped, "the server did not shut down within 10 s");
}
