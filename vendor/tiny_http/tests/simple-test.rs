use std::io::Write;

#[allow(dead_code)]
mod support;

#[test]
fn basic_handling() {
    let (_running, mut stream) = support::serve(support::limits(), |request: tiny_http::Request| {
        assert_eq!(*request.method(), tiny_http::Method::Get);
        assert_eq!(request.url(), "/");
        tiny_http::Response::from_string("hello world").boxed()
    });
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();

    let content = support::read_to_close(&mut stream);
    assert!(content.starts_with("HTTP/1.1 200 OK\r\n"), "{}", content);
    assert!(content.ends_with("hello world"));
}
