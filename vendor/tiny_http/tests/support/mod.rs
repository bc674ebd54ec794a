//! What the tests share: a server on 127.0.0.1:0 serving a handler, clients
//! whose every read and write times out, and a reader of responses.

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use tiny_http::{Handler, Limits, Request, Response, ResponseBox, Running, Server};

/// How long a client read or write may block before the test fails.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// The default limits with 1 s timeouts, so that a test waiting for one
/// takes a second or two.
pub fn limits() -> Limits {
    Limits {
        head_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        write_timeout: Duration::from_secs(1),
        linger: Duration::from_secs(1),
        ..Limits::default()
    }
}

/// Starts a server on 127.0.0.1:0 serving `handler` within `limits`, and a
/// client connected to it.
pub fn serve<H: Handler>(limits: Limits, handler: H) -> (Running, TcpStream) {
    let server = Server::http("127.0.0.1:0").unwrap();
    let running = server.serve(limits, handler).unwrap();
    let client = connect(&running);
    (running, client)
}

/// A new client of `running`, its reads and writes bounded by [`IO_TIMEOUT`].
pub fn connect(running: &Running) -> TcpStream {
    let client = TcpStream::connect(running.server_addr().to_ip().unwrap()).unwrap();
    client.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    client.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
    client
}

/// Answers every request with "hello world".
pub fn hello_world(_: Request) -> ResponseBox {
    Response::from_string("hello world").boxed()
}

/// A "hello world" server (within [`limits`]) and a client connected to it.
pub fn new_client_to_hello_world_server() -> (Running, TcpStream) {
    serve(limits(), hello_world)
}

/// Everything the server sends until it closes the connection (a reset
/// after the last byte counts as closing). Fails after [`IO_TIMEOUT`]
/// without the connection closing.
pub fn read_to_close(stream: &mut impl Read) -> String {
    let mut received = Vec::new();
    let mut buf = [0; 8192];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => panic!("the connection did not close: {} after {:?}", e, received),
        }
    }
    String::from_utf8(received).unwrap()
}

/// Asserts that the server closes the connection without sending anything
/// more, and returns how long that took.
pub fn assert_closed(stream: &mut impl Read) -> Duration {
    let start = Instant::now();
    let rest = read_to_close(stream);
    assert_eq!(rest, "", "nothing more was expected before the close");
    start.elapsed()
}

/// A response as read by [`read_response`].
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The status line and the header lines, CRLF-separated, without the
    /// empty line.
    pub head: String,
    pub body: String,
}

impl Reply {
    /// The value of the first header called `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (field, value) = line.split_once(':')?;
            field.eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }
}

/// Reads one response head, byte by byte so that nothing of what follows
/// is consumed.
pub fn read_head(stream: &mut impl Read) -> Reply {
    let mut head = Vec::new();
    let mut byte = [0];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => panic!("the connection closed in a response head: {:?}", head),
            Err(e) => panic!("no response head: {} after {:?}", e, head),
        }
    }
    head.truncate(head.len() - 4);
    let head = String::from_utf8(head).unwrap();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status code in {:?}", head));
    Reply {
        status,
        head,
        body: String::new(),
    }
}

/// Reads one response framed by its `Content-Length` (no header: no body),
/// leaving whatever follows it unread.
pub fn read_response(stream: &mut impl Read) -> Reply {
    let mut reply = read_head(stream);
    assert_eq!(reply.header("Transfer-Encoding"), None, "{}", reply.head);
    let length = reply.header("Content-Length").map_or(0, |l| l.parse().unwrap());
    let mut body = vec![0; length];
    stream.read_exact(&mut body).unwrap();
    reply.body = String::from_utf8(body).unwrap();
    reply
}

/// Waits up to [`IO_TIMEOUT`] for the server to have `n` connections open.
pub fn wait_for_open_connections(running: &Running, n: usize) {
    let deadline = Instant::now() + IO_TIMEOUT;
    while running.open_connections() != n {
        assert!(
            Instant::now() < deadline,
            "{} connections open, not {n}",
            running.open_connections()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}
