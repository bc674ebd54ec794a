#![cfg(unix)]

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;

#[allow(dead_code)]
mod support;

#[test]
fn unix_basic_handling() {
    // A path of this process's own: a fixed one fails to bind while a
    // previous run's socket file is left over.
    let path = std::env::temp_dir().join(format!("tiny-http-test-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let server = tiny_http::Server::http_unix(&path).unwrap();
    let bound: PathBuf = server
        .server_addr()
        .to_unix()
        .unwrap()
        .as_pathname()
        .unwrap()
        .into();
    assert_eq!(bound, path);
    let running = server
        .serve(support::limits(), |request: tiny_http::Request| {
            assert_eq!(*request.method(), tiny_http::Method::Get);
            assert_eq!(request.url(), "/");
            assert_eq!(request.remote_addr(), None);
            tiny_http::Response::from_string("hello world").boxed()
        })
        .unwrap();
    let mut client = UnixStream::connect(&path).unwrap();
    client.set_read_timeout(Some(support::IO_TIMEOUT)).unwrap();
    client.set_write_timeout(Some(support::IO_TIMEOUT)).unwrap();

    write!(
        client,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();

    let content = support::read_to_close(&mut client);
    assert!(content.starts_with("HTTP/1.1 200 OK\r\n"), "{}", content);
    assert!(content.ends_with("hello world"));
    assert_eq!(running.shutdown(), 0);
    assert!(!path.exists(), "shutdown removes the socket file");
}
