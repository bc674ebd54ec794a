use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use tiny_http::{Request, Response, ResponseBox};

#[allow(dead_code)]
mod support;

struct MeteredReader<T> {
    inner: T,
    position: Arc<AtomicUsize>,
}

impl<T> Read for MeteredReader<T>
where
    T: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(read) => {
                self.position.fetch_add(read, Relaxed);
                Ok(read)
            }
            e => e,
        }
    }
}

/// 400 MiB, as upstream's, but made as it is read rather than held in memory.
const BIG_BODY_LEN: usize = 25 * 1024 * 1024 * 16;

/// A big identity-encoded response, and how much of its body has been read.
fn big_response() -> (ResponseBox, Arc<AtomicUsize>) {
    let position = Arc::new(AtomicUsize::new(0));
    let reader = MeteredReader {
        inner: std::io::repeat(b'A').take(BIG_BODY_LEN as u64),
        position: position.clone(),
    };
    let response = Response::empty(200)
        .with_chunked_threshold(usize::MAX)
        .with_data(reader, Some(BIG_BODY_LEN))
        .boxed();
    (response, position)
}

/// A server whose handler, once it has the request, waits for the test's
/// go-ahead and answers with [`big_response`]; the test gets the reader's
/// position.
fn big_response_server() -> (
    tiny_http::Running,
    std::net::TcpStream,
    mpsc::Receiver<Arc<AtomicUsize>>,
    mpsc::SyncSender<()>,
) {
    let (position_tx, position_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::sync_channel(1);
    let go_rx = Mutex::new(go_rx);
    let (running, stream) = support::serve(support::limits(), move |_: Request| {
        let (response, position) = big_response();
        position_tx.send(position).unwrap();
        go_rx.lock().unwrap().recv_timeout(support::IO_TIMEOUT).unwrap();
        response
    });
    (running, stream, position_rx, go_tx)
}

/// Checks that a body-Read:er is not called when the client has disconnected
#[test]
fn responding_to_closed_client() {
    let (running, mut stream, position, go) = big_response_server();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let position = position.recv_timeout(support::IO_TIMEOUT).unwrap();

    // Client already disconnected
    drop(stream);
    go.send(()).unwrap();

    // The transport gives up on the connection at the first failed write.
    support::wait_for_open_connections(&running, 0);
    assert!(position.load(Relaxed) < 1024 * 1024, "{}", position.load(Relaxed));
}

/// Checks that a slow client does not cause data to be consumed and buffered from a reader
#[test]
fn responding_to_non_consuming_client() {
    let (_running, mut stream, position, go) = big_response_server();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let position = position.recv_timeout(support::IO_TIMEOUT).unwrap();

    // Client still connected, but not reading anything
    go.send(()).unwrap();

    std::thread::sleep(Duration::from_millis(100));

    // It seems the client TCP socket can buffer quite a lot, so we need to be permissive
    assert!(
        position.load(Relaxed) < 8 * 1024 * 1024,
        "{}",
        position.load(Relaxed)
    );

    drop(stream);
}

/// New: a client that does not read its response loses its connection
/// after `write_timeout`, and the reader is not read any further.
#[test]
fn non_consuming_client_loses_its_connection_after_write_timeout() {
    let limits = support::limits();
    let (running, mut stream, position, go) = big_response_server();
    write!(stream, "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
    let position = position.recv_timeout(support::IO_TIMEOUT).unwrap();
    let start = Instant::now();
    go.send(()).unwrap();

    support::wait_for_open_connections(&running, 0);
    let waited = start.elapsed();
    assert!(
        waited >= limits.write_timeout - Duration::from_millis(100),
        "{:?}",
        waited
    );
    assert!(
        waited < limits.write_timeout + Duration::from_secs(2),
        "{:?}",
        waited
    );
    let written = position.load(Relaxed);
    assert!(written < 8 * 1024 * 1024, "{}", written);

    // What was sent before the timeout is still there; then the connection ends.
    let received = support::read_to_close(&mut stream);
    assert!(received.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(received.len() < BIG_BODY_LEN, "{}", received.len());
    assert_eq!(
        position.load(Relaxed),
        written,
        "read after the connection was dropped"
    );
}
