//! New: the connection layer's own behaviour, which upstream's suite had no
//! tests for: keep-alive, HTTP/1.0, HEAD, the limits and the refusals.

use std::io::Write;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use tiny_http::{Handler, Limits, Refusal, Request, Response, ResponseBox};

#[allow(dead_code)]
mod support;

/// Answers with the method, target, version, client port and body.
fn describe(request: Request) -> ResponseBox {
    let port = request.remote_addr().map_or(0, |a| a.port());
    let text = format!(
        "{} {} HTTP/{} {} {}",
        request.method(),
        request.url(),
        request.http_version(),
        port,
        String::from_utf8_lossy(request.body())
    );
    Response::from_string(text).boxed()
}

#[test]
fn keep_alive_answers_several_requests_in_order() {
    let (_running, mut client) = support::serve(support::limits(), describe);
    let port = client.local_addr().unwrap().port();

    for n in 0..3 {
        write!(
            client,
            "POST /{n} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\n\r\n{n}"
        )
        .unwrap();
        let response = support::read_response(&mut client);
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Connection"), None, "{}", response.head);
        assert_eq!(response.body, format!("POST /{} HTTP/1.1 {} {}", n, port, n));
    }
    write!(
        client,
        "GET /last HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let last = support::read_response(&mut client);
    assert_eq!(last.body, format!("GET /last HTTP/1.1 {} ", port));
    assert_eq!(last.header("Connection"), Some("close"));
    support::assert_closed(&mut client);
}

#[test]
fn http_1_0_keeps_the_connection_only_when_asked() {
    let (running, mut client) = support::serve(support::limits(), describe);

    for n in 0..2 {
        write!(client, "GET /{n} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
        let response = support::read_response(&mut client);
        assert!(
            response.head.starts_with("HTTP/1.0 200 OK\r\n"),
            "{}",
            response.head
        );
        assert_eq!(response.header("Connection"), Some("keep-alive"));
        assert!(response.body.starts_with(&format!("GET /{} HTTP/1.0 ", n)));
    }
    write!(client, "GET /2 HTTP/1.0\r\n\r\n").unwrap();
    let response = support::read_response(&mut client);
    assert!(
        response.head.starts_with("HTTP/1.0 200 OK\r\n"),
        "{}",
        response.head
    );
    assert_eq!(response.header("Connection"), Some("close"));
    support::assert_closed(&mut client);

    // A response of unknown length goes to HTTP/1.0 with a Content-Length.
    drop(running);
    let (_running, mut client) = support::serve(support::limits(), |_: Request| {
        Response::empty(200)
            .with_data(&b"unknown length"[..], None)
            .boxed()
    });
    write!(client, "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").unwrap();
    let response = support::read_response(&mut client);
    assert_eq!(response.header("Content-Length"), Some("14"));
    assert_eq!(response.body, "unknown length");
}

#[test]
fn head_gets_the_headers_but_no_body() {
    let (_running, mut client) = support::new_client_to_hello_world_server();

    write!(client, "HEAD / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let head = support::read_head(&mut client);
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), Some("11"));

    // The next bytes are the next response's, not a body.
    write!(
        client,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let content = support::read_to_close(&mut client);
    assert!(content.starts_with("HTTP/1.1 200 OK\r\n"), "{}", content);
    assert!(content.ends_with("\r\n\r\nhello world"), "{}", content);
}

#[test]
fn a_body_over_max_body_gets_413_unread() {
    let limits = Limits {
        max_body: 16,
        ..support::limits()
    };
    let (running, mut client) = support::serve(limits, describe);

    write!(
        client,
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 16\r\n\r\n{}",
        "a".repeat(16)
    )
    .unwrap();
    let fits = support::read_response(&mut client);
    assert_eq!(fits.status, 200);
    assert!(fits.body.ends_with(&"a".repeat(16)));

    write!(
        client,
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 17\r\n\r\n"
    )
    .unwrap();
    let refused = support::read_response(&mut client);
    assert_eq!(refused.status, 413);
    assert_eq!(refused.header("Connection"), Some("close"));
    assert_eq!(refused.body, Refusal::BodyTooLarge.description());
    client.shutdown(Shutdown::Write).unwrap();
    support::assert_closed(&mut client);
    support::wait_for_open_connections(&running, 0);
}

#[test]
fn a_stalled_body_gets_408_after_body_timeout() {
    let limits = support::limits();
    let (_running, mut client) = support::serve(limits.clone(), describe);

    write!(
        client,
        "POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\nhalf"
    )
    .unwrap();
    let start = Instant::now();
    let content = support::read_to_close(&mut client);
    assert!(content.starts_with("HTTP/1.1 408 "), "{}", content);
    let waited = start.elapsed();
    assert!(
        waited >= limits.body_timeout - Duration::from_millis(100),
        "{:?}",
        waited
    );
}

#[test]
fn the_third_connection_over_max_connections_2_gets_503() {
    let limits = Limits {
        max_connections: 2,
        ..support::limits()
    };
    let (running, mut first) = support::serve(limits, support::hello_world);
    let mut second = support::connect(&running);
    for client in [&mut first, &mut second] {
        write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        assert_eq!(support::read_response(client).status, 200);
    }
    assert_eq!(running.open_connections(), 2);

    let mut third = support::connect(&running);
    let refused = support::read_response(&mut third);
    assert_eq!(refused.status, 503);
    assert_eq!(refused.header("Connection"), Some("close"));
    assert_eq!(refused.body, Refusal::Busy.description());
    support::assert_closed(&mut third);

    // The two connections are still served; once one closes, a new one is.
    write!(second, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(support::read_response(&mut second).status, 200);
    drop(first);
    support::wait_for_open_connections(&running, 1);
    let mut fourth = support::connect(&running);
    write!(fourth, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(support::read_response(&mut fourth).status, 200);
}

#[test]
fn an_idle_keep_alive_connection_is_closed_after_head_timeout() {
    let limits = support::limits();
    let (running, mut client) = support::new_client_to_hello_world_server();

    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(support::read_response(&mut client).status, 200);
    let waited = support::assert_closed(&mut client);
    assert!(
        waited >= limits.head_timeout - Duration::from_millis(100),
        "{:?}",
        waited
    );
    assert!(
        waited < limits.head_timeout + Duration::from_secs(2),
        "{:?}",
        waited
    );
    support::wait_for_open_connections(&running, 0);
}

#[test]
fn refusals_are_answered_and_close_the_connection() {
    let limits = Limits {
        max_target: 64,
        max_headers: 4,
        ..support::limits()
    };
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: localhost\r\n\r\n", "a".repeat(64));
    let many_headers = format!("GET / HTTP/1.1\r\n{}\r\n", "A: b\r\n".repeat(5));
    let long_method = format!("{} / HTTP/1.1\r\nHost: localhost\r\n\r\n", "M".repeat(33));
    let cases: [(&str, &str, u16); 10] = [
        (
            "both lengths",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            "two lengths",
            "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
            400,
        ),
        ("bare LF", "GET / HTTP/1.1\nHost: localhost\n\n", 400),
        (
            "chunked body",
            "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
        ),
        ("long target", &long_target, 414),
        (
            "unsupported Expect",
            "POST / HTTP/1.1\r\nHost: localhost\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
            417,
        ),
        ("many headers", &many_headers, 431),
        ("HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 505),
        ("no Host", "GET / HTTP/1.1\r\n\r\n", 400),
        ("long method", &long_method, 501),
    ];
    for (what, request, status) in cases {
        let (_running, mut client) = support::serve(limits.clone(), support::hello_world);
        client.write_all(request.as_bytes()).unwrap();
        let refused = support::read_response(&mut client);
        assert_eq!(refused.status, status, "{}", what);
        assert_eq!(refused.header("Connection"), Some("close"), "{}", what);
        assert!(!refused.body.contains("hello world"), "{}", what);
        support::assert_closed(&mut client);
    }
}

#[test]
fn a_handler_chooses_how_refusals_read() {
    struct Custom;
    impl Handler for Custom {
        fn handle(&self, _: Request) -> ResponseBox {
            Response::from_string("handled").boxed()
        }
        fn refuse(&self, refusal: Refusal) -> ResponseBox {
            Response::from_string(format!("{{\"refused\":{}}}", refusal.status()))
                .with_status_code(refusal.status())
                .boxed()
        }
    }
    let (_running, mut client) = support::serve(support::limits(), Custom);

    write!(client, "GET / HTTP/3.0\r\n\r\n").unwrap();
    let refused = support::read_response(&mut client);
    assert_eq!(
        (refused.status, refused.body.as_str()),
        (505, "{\"refused\":505}")
    );
    support::assert_closed(&mut client);
}

#[test]
fn the_503_carries_the_current_date() {
    let limits = Limits {
        max_connections: 1,
        head_timeout: Duration::from_secs(10),
        ..support::limits()
    };
    let (running, mut held) = support::serve(limits, support::hello_world);
    let mut date_now = || {
        write!(held, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let reply = support::read_response(&mut held);
        reply.header("Date").unwrap_or_default().to_owned()
    };
    // The 503 was once rendered at start-up; two seconds later its Date
    // must have moved on with the clock.
    std::thread::sleep(Duration::from_millis(2100));
    let before = date_now();
    let refused = support::read_response(&mut support::connect(&running));
    let after = date_now();
    assert_eq!(refused.status, 503);
    let date = refused.header("Date").unwrap_or_default();
    assert!(
        date == before || date == after,
        "{} not {} or {}",
        date,
        before,
        after
    );
}

#[test]
fn an_empty_line_split_between_two_reads_is_skipped() {
    let (_running, mut client) = support::serve(support::limits(), describe);
    write!(client, "GET /a HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    assert_eq!(support::read_response(&mut client).status, 200);
    // RFC 9112 §2.2: an empty line before a request line is ignored, even
    // when its CR and LF arrive apart.
    client.write_all(b"\r").unwrap();
    std::thread::sleep(Duration::from_millis(100));
    write!(client, "\nGET /b HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let reply = support::read_response(&mut client);
    assert_eq!(reply.status, 200);
    assert!(reply.body.starts_with("GET /b"), "{}", reply.body);
}

#[test]
fn http_1_0_gets_no_100_continue() {
    let (_running, mut client) = support::serve(support::limits(), describe);
    write!(
        client,
        "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n"
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    client.write_all(b"hello").unwrap();
    let reply = support::read_response(&mut client);
    // RFC 9110 §10.1.1: the expectation of a 1.0 request is ignored, so the
    // first thing the client reads is the final answer.
    assert_eq!(reply.status, 200, "{}", reply.head);
    assert!(reply.body.ends_with("hello"), "{}", reply.body);
}

#[test]
fn a_response_longer_than_its_length_closes_the_connection() {
    let lying = |_: Request| {
        Response::new(
            200.into(),
            Vec::new(),
            std::io::Cursor::new(b"hello world".to_vec()),
            Some(5),
            None,
        )
        .boxed()
    };
    let (_running, mut client) = support::serve(support::limits(), lying);
    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let reply = support::read_response(&mut client);
    assert_eq!(reply.body, "hello");
    // Not " world" taken for the next response: the connection is closed.
    assert_eq!(support::read_to_close(&mut client), "");
}

#[test]
fn a_head_that_ends_past_max_head_is_refused() {
    let limits = Limits {
        max_head: 1024,
        ..support::limits()
    };
    let (_running, mut client) = support::serve(limits, support::hello_world);
    // 1,000 bytes first, so that the server's next read carries the rest,
    // its end included, 500 bytes past the limit.
    let padding = "a".repeat(1400);
    let head = format!("GET / HTTP/1.1\r\nHost: localhost\r\nX-Pad: {}\r\n\r\n", padding);
    client.write_all(&head.as_bytes()[..1000]).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    client.write_all(&head.as_bytes()[1000..]).unwrap();
    assert_eq!(support::read_response(&mut client).status, 431);
}

/// A body that fails after its first bytes.
struct Failing(usize);

impl std::io::Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("the body's source failed"));
        }
        let n = self.0.min(buf.len());
        buf[..n].fill(b'x');
        self.0 -= n;
        Ok(n)
    }
}

#[test]
fn a_chunked_body_that_fails_is_not_ended_as_if_whole() {
    let failing = |_: Request| Response::new(200.into(), Vec::new(), Failing(10), None, None).boxed();
    let (_running, mut client) = support::serve(support::limits(), failing);
    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let sent = support::read_to_close(&mut client);
    assert!(sent.contains("Transfer-Encoding: chunked"), "{}", sent);
    // The ten bytes may arrive, but never the last chunk that would say the
    // body is complete.
    assert!(!sent.ends_with("0\r\n\r\n"), "{:?}", sent);
}
