//! Hostile connection patterns against the real server in this process: 1,000
//! idle connections, a flood of connections opened and closed, pipelined
//! requests, bodies shorter than announced. A file of its own: the tests
//! count this process's threads, descriptors and memory, which other tests
//! running beside them would disturb; they take turns (`common::take_turn`).

use std::io::{BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::*;

/// Waits up to 15 s (tiny_http lets idle pool threads end after a few
/// seconds) for the threads and descriptors to come back near `before`.
fn assert_back_down(before: (usize, usize), what: &str) -> (usize, usize) {
    let after = settle(before);
    assert!(
        back_down(before, after),
        "{what}: (threads, descriptors) did not come back down: {before:?} -> {after:?}"
    );
    after
}

/// 1,000 connections that never send a byte: a normal client is still served
/// within 1 s, each costs a bounded amount of memory, and the idle ones are
/// closed after the 10 s socket timeout, so the threads they held go away.
#[cfg(target_os = "linux")]
#[test]
fn a_thousand_idle_connections_are_bounded() {
    let (_turn, server, addr) = take_turn();
    assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);
    let before = threads_and_descriptors();
    let rss_before = status_of_this_process("VmRSS");
    let idle: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let during = status_of_this_process("Threads");
    assert!(
        during >= before.0 + 900,
        "one thread per connection is expected: {before:?} -> {during}"
    );
    // Each connection is a thread (its stack is mostly untouched) and
    // tiny_http's buffers: tens of KiB of resident memory, not megabytes.
    let rss_during = status_of_this_process("VmRSS");
    let per_connection_kib = rss_during.saturating_sub(rss_before) / 1000;
    assert!(
        per_connection_kib < 100,
        "{per_connection_kib} KiB per idle connection (RSS {rss_before} -> {rss_during} kB)"
    );

    // After the socket timeout every idle connection has been closed by the server.
    std::thread::sleep(Duration::from_secs(11));
    for mut stream in idle {
        // A closed connection answers at once: end of stream, or a reset.
        // One still open would block until this timeout.
        stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("an idle connection is still open: {other:?}"),
        }
    }
    let after = assert_back_down(before, "1,000 idle connections");
    println!(
        "threads: {} before, {during} with 1,000 idle connections, {} after the timeout; \
         RSS {rss_before} kB -> {rss_during} kB = {per_connection_kib} KiB per connection",
        before.0, after.0
    );
    server.shutdown();
}

/// 200 slow clients, one byte a second: 100 trickle their request head
/// (slowloris), 100 a small body (read by tiny_http with the head). Every
/// /healthz asked meanwhile is answered within 1 s, and every slow client is
/// cut off soon after its head's 10 s are up, its thread freed.
#[cfg(target_os = "linux")]
#[test]
fn clients_sending_a_byte_a_second_are_cut_off() {
    let (_turn, server, addr) = take_turn();
    assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);
    let before = threads_and_descriptors();
    let starts: [&[u8]; 2] = [
        b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ",
        b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    ];
    let mut slow: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut stream = TcpStream::connect(addr).unwrap();
            stream.write_all(starts[i % 2]).unwrap();
            stream
        })
        .collect();
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    // One byte a second from every slow client that is still connected (a
    // write fails once the server has closed and the reset is back), and a
    // normal request in between.
    while !slow.is_empty() && started.elapsed() < Duration::from_secs(40) {
        slow.retain_mut(|stream| stream.write_all(b" ").is_ok());
        let asked = Instant::now();
        assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);
        slowest = slowest.max(asked.elapsed());
        std::thread::sleep(Duration::from_secs(1).saturating_sub(asked.elapsed()));
    }
    let all_cut_off = started.elapsed();
    assert!(
        slow.is_empty(),
        "{} slow clients still connected after 40 s",
        slow.len()
    );
    assert!(
        all_cut_off < Duration::from_secs(16),
        "the last one was cut off after {all_cut_off:?}"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "/healthz took {slowest:?} beside the slow clients"
    );
    let after = assert_back_down(before, "200 slow clients");
    println!(
        "a byte a second: /healthz at most {slowest:?} beside 200 slow clients; all cut off within \
         {all_cut_off:?}; (threads, fds) {before:?} -> {after:?}"
    );
    server.shutdown();
}

/// Connections opened and closed as fast as four clients can, in every
/// state a request can be cut off in: nothing is leaked, and the server
/// still answers.
#[cfg(target_os = "linux")]
#[test]
fn a_connection_flood_leaks_nothing() {
    let (_turn, server, addr) = take_turn();
    assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);
    let before = threads_and_descriptors();
    let cut_offs: [&[u8]; 5] = [
        b"",                                                                    // connect, close
        b"GET /heal",                                                           // half a request line
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n",                                // headers unfinished
        b"POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n{", // body unfinished
        b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n",                            // a response never read
    ];
    let started = Instant::now();
    let clients: Vec<_> = (0..4)
        .map(|client| {
            std::thread::spawn(move || {
                for i in 0..500 {
                    let mut stream = TcpStream::connect(addr).unwrap();
                    let _ = stream.write_all(cut_offs[(client + i) % cut_offs.len()]);
                    // Closed with data unread: the kernel may answer with a reset.
                    drop(stream);
                }
            })
        })
        .collect();
    for client in clients {
        client.join().unwrap();
    }
    let flood = started.elapsed();
    assert_eq!(call(addr, "GET", "/healthz", None, None).status, 200);
    let after = assert_back_down(before, "2,000 connections opened and closed");
    println!("2,000 connections in {flood:?}; (threads, fds) {before:?} -> {after:?}");
    server.shutdown();
}

/// 100 requests written at once on one connection come back as 100
/// responses in order; and again on 8 connections at a time.
#[cfg(target_os = "linux")]
#[test]
fn pipelined_requests_are_answered_in_order() {
    let (_turn, server, addr) = take_turn();
    let access = user(addr, "piper").text("access_token");
    let before = threads_and_descriptors();
    let note = json!({"text": "pipelined"}).to_string();
    let requests = [
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
        format!("GET /me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {access}\r\n\r\n"),
        format!(
            "POST /notes HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {access}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{note}",
            note.len()
        ),
        "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n".to_owned(),
    ];
    let expected = [200, 200, 201, 404];
    let pipeline = |rounds: usize| {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let all: String = (0..rounds * requests.len())
            .map(|i| requests[i % requests.len()].as_str())
            .collect();
        stream.write_all(all.as_bytes()).unwrap();
        let mut reader = BufReader::new(stream);
        (0..rounds * requests.len())
            .map(|_| read_reply(&mut reader).unwrap().status)
            .collect::<Vec<u16>>()
    };
    let statuses = pipeline(25);
    let wanted: Vec<u16> = (0..100).map(|i| expected[i % expected.len()]).collect();
    assert_eq!(statuses, wanted);

    std::thread::scope(|scope| {
        let clients: Vec<_> = (0..8).map(|_| scope.spawn(|| pipeline(25))).collect();
        for client in clients {
            assert_eq!(client.join().unwrap(), wanted);
        }
    });
    let notes = call(addr, "GET", "/notes", Some(&access), None);
    assert_eq!(notes.body["notes"].as_array().unwrap().len(), 9 * 25);
    assert_back_down(before, "pipelined requests");
    server.shutdown();
}

/// A body that ends (the client shuts its side) before its Content-Length:
/// the connection is closed at once, not after the socket timeout, and no
/// cut body passes for a whole one.
#[test]
fn a_body_shorter_than_announced_closes_the_connection_at_once() {
    let (_turn, server, addr) = take_turn();
    let access = user(addr, "shorty").text("access_token");

    // Small or large, a body cut short is a 400, then the connection is
    // closed. The JSON sent is complete and valid: only the length says it
    // was cut, and nothing must be done with it.
    let login = "POST /auth/login HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    let note = format!("{{\"text\": \"cut\"}}{}", " ".repeat(2000));
    let head = format!(
        "POST /notes HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer {access}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        note.len() + 1000
    );
    for (head, body) in [(login, "{}"), (head.as_str(), note.as_str())] {
        let started = Instant::now();
        let received = converse(addr, format!("{head}{body}").as_bytes(), Then::ShutWrite);
        let took = started.elapsed();
        // One 400, and the connection closed.
        assert_eq!(status_among(&received, &[400]), Ok(400));
        let answer = String::from_utf8_lossy(&received.bytes);
        assert!(
            answer.contains("the body ended before its Content-Length"),
            "{answer}"
        );
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    let notes = call(addr, "GET", "/notes", Some(&access), None);
    assert_eq!(notes.body["notes"], json!([]));
    server.shutdown();
}
