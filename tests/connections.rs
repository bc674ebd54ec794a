//! 1,000 connections that never send a byte, against the real server in this
//! process. A file of its own: it counts this process's threads, which other
//! tests running beside it would disturb.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use minijwt::auth::{Auth, AuthConfig, SystemClock};
use minijwt::http::server::RunningServer;
use minijwt::store::Store;
use minijwt::Hs256Key;

fn healthz(addr: std::net::SocketAddr) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response[9..12].parse().unwrap()
}

fn threads_of_this_process() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// 1,000 connections that never send a byte: a normal client is still served
/// within 1 s, and the idle ones are closed after the 10 s socket timeout, so
/// the threads they held go away.
#[cfg(target_os = "linux")]
#[test]
fn a_thousand_idle_connections_are_bounded() {
    let auth = Auth::new(
        Store::open_in_memory().unwrap(),
        Hs256Key::new(&[4; 32]).unwrap(),
        AuthConfig::default(),
        Arc::new(SystemClock),
    )
    .unwrap();
    let server = RunningServer::start(Arc::new(auth), "127.0.0.1:0", 4, false).unwrap();
    let addr = server.addr();
    let before = threads_of_this_process();
    let idle: Vec<TcpStream> = (0..1000).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    assert_eq!(healthz(addr), 200);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let during = threads_of_this_process();
    assert!(
        during >= before + 900,
        "one thread per connection is expected: {before} -> {during}"
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
    // tiny_http's pool lets idle threads end a few seconds later.
    let deadline = Instant::now() + Duration::from_secs(15);
    while threads_of_this_process() > before + 50 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let after = threads_of_this_process();
    assert!(
        after <= before + 50,
        "threads did not come back down: {before} -> {during} -> {after}"
    );
    println!("threads: {before} before, {during} with 1,000 idle connections, {after} after the timeout");
    server.shutdown();
}
