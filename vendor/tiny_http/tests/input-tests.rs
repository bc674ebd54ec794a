use std::io::{Read, Write};
use std::net::Shutdown;

use tiny_http::{Request, Response, ResponseBox};

#[allow(dead_code)]
mod support;

/// Answers with the request's body.
fn echo(request: Request) -> ResponseBox {
    Response::from_data(request.into_body()).boxed()
}

#[test]
fn basic_string_input() {
    let (_running, mut client) = support::serve(support::limits(), echo);

    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain; charset=utf8\r\nContent-Length: 5\r\n\r\nhello").unwrap();

    let response = support::read_response(&mut client);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "hello");
}

#[test]
fn wrong_content_length() {
    let (_running, mut client) = support::serve(support::limits(), echo);

    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain; charset=utf8\r\nContent-Length: 3\r\n\r\nhello").unwrap();

    let response = support::read_response(&mut client);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "hel");
}

#[test]
fn expect_100_continue() {
    let (_running, mut client) = support::serve(support::limits(), echo);

    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 100-continue\r\nContent-Type: text/plain; charset=utf8\r\nContent-Length: 5\r\n\r\n").unwrap();
    client.flush().unwrap();

    let mut content = vec![0; 12];
    client.read_exact(&mut content).unwrap();
    assert!(&content[9..].starts_with(b"100")); // 100 status code
    let mut rest = [0; 13];
    client.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b" Continue\r\n\r\n");

    write!(client, "hello").unwrap();
    client.flush().unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let response = support::read_response(&mut client);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, "hello");
    support::assert_closed(&mut client);
}

#[test]
fn unsupported_expect_header() {
    let (_running, mut client) = support::new_client_to_hello_world_server();

    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nExpect: 189-dummy\r\nContent-Type: text/plain; charset=utf8\r\n\r\n").unwrap();

    let content = support::read_to_close(&mut client);
    assert!(&content[9..].starts_with("417")); // 417 status code
}

#[test]
fn invalid_header_name() {
    let (_running, mut client) = support::new_client_to_hello_world_server();

    // note the space hidden in the Content-Length, which is invalid
    write!(client, "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: text/plain; charset=utf8\r\nContent-Length : 5\r\n\r\nhello").unwrap();

    let content = support::read_to_close(&mut client);
    assert!(&content[9..].starts_with("400 Bad Request")); // 400 status code
}

#[test]
fn custom_content_type_response_header() {
    let (_running, mut stream) = support::serve(support::limits(), |_: Request| {
        Response::from_string("{\"custom\": \"Content-Type\"}")
            .with_header(
                "Content-Type: application/json"
                    .parse::<tiny_http::Header>()
                    .unwrap(),
            )
            .boxed()
    });
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();

    let content = support::read_to_close(&mut stream);

    assert!(content.ends_with("{\"custom\": \"Content-Type\"}"));
    assert_ne!(content.find("Content-Type: application/json"), None);
}
