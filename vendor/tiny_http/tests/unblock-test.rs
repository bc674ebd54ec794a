//! Stopping a server. Upstream unblocked threads waiting in `recv()`; there
//! is no `recv()` now, and `Running::shutdown()` stops the accept thread and
//! the connections' threads.

use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use tiny_http::{Request, Response};

#[allow(dead_code)]
mod support;

#[test]
fn unblock_server() {
    // Changed: upstream unblocked `incoming_requests()` from another thread;
    // now the server is stopped by `shutdown()`, from any thread, promptly.
    let running = tiny_http::Server::http("127.0.0.1:0")
        .unwrap()
        .serve(support::limits(), support::hello_world)
        .unwrap();
    let addr = running.server_addr().to_ip().unwrap();

    let start = Instant::now();
    let open = thread::spawn(move || running.shutdown()).join().unwrap();
    assert_eq!(open, 0);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    assert!(std::net::TcpStream::connect(addr).is_err(), "still listening");
}

#[test]
fn unblock_threads() {
    // Changed: upstream unblocked two threads waiting in `recv()`; now the
    // threads are the connections' own, and shutdown lets each finish the
    // request it is serving (answered with `Connection: close`) before it
    // returns.
    let (running, mut first) = support::serve(support::limits(), |_: Request| {
        thread::sleep(Duration::from_millis(300));
        Response::from_string("finished").boxed()
    });
    let mut second = support::connect(&running);
    for client in [&mut first, &mut second] {
        write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    }
    thread::sleep(Duration::from_millis(100)); // both requests are in the handler

    assert_eq!(running.shutdown(), 0);
    for client in [&mut first, &mut second] {
        let response = support::read_response(client);
        assert_eq!((response.status, response.body.as_str()), (200, "finished"));
        assert_eq!(response.header("Connection"), Some("close"));
        support::assert_closed(client);
    }
}

#[test]
fn shutdown_is_prompt_with_idle_keep_alive_connections() {
    let limits = tiny_http::Limits {
        head_timeout: Duration::from_secs(10),
        ..support::limits()
    };
    let (running, first) = support::serve(limits, support::hello_world);
    let mut clients = vec![first, support::connect(&running), support::connect(&running)];
    for client in &mut clients {
        write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        assert_eq!(support::read_response(client).body, "hello world");
    }
    assert_eq!(running.open_connections(), 3);

    let start = Instant::now();
    assert_eq!(running.shutdown(), 0);
    assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
    for client in &mut clients {
        support::assert_closed(client);
    }
}
