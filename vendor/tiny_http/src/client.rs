use ascii::AsciiString;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;
use std::io::Error as IoError;
use std::io::Result as IoResult;
use std::io::{BufRead, BufReader, BufWriter, ErrorKind, Read};

use std::net::SocketAddr;
use std::str::FromStr;

use crate::common::{HTTPVersion, Method};
use crate::util::RefinedTcpStream;
use crate::util::{SequentialReader, SequentialReaderBuilder, SequentialWriterBuilder};
use crate::Request;

/// minijwt patch (see PATCHES.md): the longest a request line and headers
/// may take to arrive, from the moment the server starts reading them.
const HEAD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// minijwt patch (see PATCHES.md): the most bytes a request line and its
/// headers may take together.
const MAX_HEAD: usize = 64 * 1024;

/// minijwt patch (see PATCHES.md): the socket, read through a clock that
/// holds the request head to its deadline. The clock is read before each
/// read from the socket, not for each byte: a fast client's head arrives in
/// one read and costs one clock reading, while a slow client's every byte
/// is a read of its own and is checked. (Checking every 16th byte instead
/// let a client sending a byte every 9 s keep its head going for minutes.)
pub(crate) struct HeadClock<R> {
    inner: R,
    /// Where the connection's time is counted from.
    start: Instant,
    /// Nanoseconds after `start` when the head being read is late; 0 while
    /// no head is being read (a body is not the head's business).
    deadline: Arc<AtomicU64>,
}

impl<R: Read> Read for HeadClock<R> {
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        let deadline = self.deadline.load(Ordering::Relaxed);
        if deadline != 0 && self.start.elapsed().as_nanos() > u128::from(deadline) {
            return Err(IoError::new(ErrorKind::TimedOut, "request head too slow"));
        }
        self.inner.read(buf)
    }
}

/// A ClientConnection is an object that will store a socket to a client
/// and return Request objects.
pub struct ClientConnection {
    // address of the client
    remote_addr: IoResult<Option<SocketAddr>>,

    // sequence of Readers to the stream, so that the data is not read in
    //  the wrong order
    source: SequentialReaderBuilder<BufReader<HeadClock<RefinedTcpStream>>>,

    // sequence of Writers to the stream, to avoid writing response #2 before
    //  response #1
    sink: SequentialWriterBuilder<BufWriter<RefinedTcpStream>>,

    // Reader to read the next header from
    next_header_source: SequentialReader<BufReader<HeadClock<RefinedTcpStream>>>,

    // minijwt patch (see PATCHES.md): when the connection started, and the
    // deadline of the head being read, shared with the socket's HeadClock.
    start: Instant,
    head_deadline: Arc<AtomicU64>,

    // set to true if we know that the previous request is the last one
    no_more_requests: bool,

    // true if the connection goes through SSL
    secure: bool,
}

/// Error that can happen when reading a request.
#[derive(Debug)]
enum ReadError {
    WrongRequestLine,
    WrongHeader(HTTPVersion),
    /// the client sent an unrecognized `Expect` header
    ExpectationFailed(HTTPVersion),
    ReadIoError(IoError),
}

impl ClientConnection {
    /// Creates a new `ClientConnection` that takes ownership of the `TcpStream`.
    pub fn new(
        write_socket: RefinedTcpStream,
        mut read_socket: RefinedTcpStream,
    ) -> ClientConnection {
        let remote_addr = read_socket.peer_addr();
        let secure = read_socket.secure();

        let start = Instant::now();
        let head_deadline = Arc::new(AtomicU64::new(0));
        let clocked = HeadClock {
            inner: read_socket,
            start,
            deadline: head_deadline.clone(),
        };
        let mut source = SequentialReaderBuilder::new(BufReader::with_capacity(1024, clocked));
        let first_header = source.next().unwrap();

        ClientConnection {
            start,
            head_deadline,
            source,
            sink: SequentialWriterBuilder::new(BufWriter::with_capacity(1024, write_socket)),
            remote_addr,
            next_header_source: first_header,
            no_more_requests: false,
            secure,
        }
    }

    /// true if the connection is HTTPS
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// Reads the next line from self.next_header_source.
    ///
    /// Reads until `CRLF` is reached. The next read will start
    ///  at the first byte of the new line.
    ///
    /// minijwt patch (see PATCHES.md): the whole request head must arrive
    /// within `budget` bytes (and before its deadline, which the socket's
    /// HeadClock enforces), so a client that sends its headers a byte at a
    /// time, or without end, cannot hold a thread or grow memory without
    /// bound.
    fn read_next_line(&mut self, budget: &mut usize) -> IoResult<AsciiString> {
        // A line ends at the first CRLF; a lone LF stays in it, as before.
        // Scanning the buffer for LF costs far less than fetching each byte
        // through two layers of `Read`.
        let mut buf = Vec::new();
        loop {
            if *budget == 0 {
                return Err(IoError::new(ErrorKind::InvalidData, "request head too large"));
            }
            let available = self.next_header_source.fill_buf()?;
            if available.is_empty() {
                return Err(IoError::new(ErrorKind::ConnectionAborted, "Unexpected EOF"));
            }
            let window = &available[..available.len().min(*budget)];
            let (taken, ends_line) = match window.iter().position(|&b| b == b'\n') {
                Some(at) => {
                    let before = if at > 0 { window.get(at - 1) } else { buf.last() };
                    (at + 1, before == Some(&b'\r'))
                }
                None => (window.len(), false),
            };
            buf.extend_from_slice(&window[..taken]);
            self.next_header_source.consume(taken);
            *budget -= taken;
            if ends_line {
                buf.truncate(buf.len() - 2); // the CRLF
                return AsciiString::from_ascii(buf)
                    .map_err(|_| IoError::new(ErrorKind::InvalidInput, "Header is not in ASCII"));
            }
        }
    }

    /// Reads a request from the stream.
    /// Blocks until the header has been read.
    fn read(&mut self) -> Result<Request, ReadError> {
        // The head's clock starts now (at least 1 ns: 0 means no deadline).
        let deadline = (self.start.elapsed() + HEAD_DEADLINE).as_nanos().max(1);
        self.head_deadline
            .store(deadline.min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        let mut budget = MAX_HEAD;
        let (method, path, version, headers) = {
            // reading the request line
            let (method, path, version) = {
                let line = self
                    .read_next_line(&mut budget)
                    .map_err(ReadError::ReadIoError)?;

                parse_request_line(
                    line.as_str().trim(), // TODO: remove this conversion
                )?
            };

            // getting all headers
            let headers = {
                let mut headers = Vec::new();
                loop {
                    let line = self
                        .read_next_line(&mut budget)
                        .map_err(ReadError::ReadIoError)?;

                    if line.is_empty() {
                        break;
                    };
                    headers.push(match FromStr::from_str(line.as_str().trim()) {
                        // TODO: remove this conversion
                        Ok(h) => h,
                        _ => return Err(ReadError::WrongHeader(version)),
                    });
                }

                headers
            };

            (method, path, version, headers)
        };

        // building the writer for the request
        let writer = self.sink.next().unwrap();

        // follow-up for next potential request
        let mut data_source = self.source.next().unwrap();
        std::mem::swap(&mut self.next_header_source, &mut data_source);

        // building the next reader
        let request = crate::request::new_request(
            self.secure,
            method,
            path,
            version.clone(),
            headers,
            *self.remote_addr.as_ref().unwrap(),
            data_source,
            writer,
        )
        .map_err(|e| {
            use crate::request;
            match e {
                request::RequestCreationError::CreationIoError(e) => ReadError::ReadIoError(e),
                request::RequestCreationError::ExpectationFailed => {
                    ReadError::ExpectationFailed(version)
                }
            }
        })?;
        // The head is in, and so is a body of up to 1 KiB, which new_request
        // reads here under the same deadline. A larger body is streamed to
        // the handler, which times it itself.
        self.head_deadline.store(0, Ordering::Relaxed);

        // return the request
        Ok(request)
    }
}

impl Iterator for ClientConnection {
    type Item = Request;

    /// Blocks until the next Request is available.
    /// Returns None when no new Requests will come from the client.
    fn next(&mut self) -> Option<Request> {
        use crate::{Response, StatusCode};

        // the client sent a "connection: close" header in this previous request
        //  or is using HTTP 1.0, meaning that no new request will come
        if self.no_more_requests {
            return None;
        }

        loop {
            let rq = match self.read() {
                Err(ReadError::WrongRequestLine) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::WrongHeader(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(400));
                    response.raw_print(writer, ver, &[], false, None).ok();
                    return None; // we don't know where the next request would start,
                                 // se we have to close
                }

                Err(ReadError::ReadIoError(ref err)) if err.kind() == ErrorKind::TimedOut => {
                    // request timeout
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(408));
                    response
                        .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                        .ok();
                    return None; // closing the connection
                }

                Err(ReadError::ExpectationFailed(ver)) => {
                    let writer = self.sink.next().unwrap();
                    let response = Response::new_empty(StatusCode(417));
                    response.raw_print(writer, ver, &[], true, None).ok();
                    return None; // TODO: should be recoverable, but needs handling in case of body
                }

                Err(ReadError::ReadIoError(_)) => return None,

                Ok(rq) => rq,
            };

            // checking HTTP version
            if *rq.http_version() > (1, 1) {
                let writer = self.sink.next().unwrap();
                let response = Response::from_string(
                    "This server only supports HTTP versions 1.0 and 1.1".to_owned(),
                )
                .with_status_code(StatusCode(505));
                response
                    .raw_print(writer, HTTPVersion(1, 1), &[], false, None)
                    .ok();
                continue;
            }

            // updating the status of the connection
            let connection_header = rq
                .headers()
                .iter()
                .find(|h| h.field.equiv("Connection"))
                .map(|h| h.value.as_str());

            let lowercase = connection_header.map(|h| h.to_ascii_lowercase());

            match lowercase {
                Some(ref val) if val.contains("close") => self.no_more_requests = true,
                Some(ref val) if val.contains("upgrade") => self.no_more_requests = true,
                Some(ref val)
                    if !val.contains("keep-alive") && *rq.http_version() == HTTPVersion(1, 0) =>
                {
                    self.no_more_requests = true
                }
                None if *rq.http_version() == HTTPVersion(1, 0) => self.no_more_requests = true,
                _ => (),
            };

            // minijwt patch (see PATCHES.md): a body that is streamed rather
            // than read here in full (chunked, over 1024 bytes, or behind
            // `Expect: 100-continue`; see request.rs) may be left partly
            // unread, and its rest must never be parsed as further requests:
            // that would let a client smuggle a request inside a body. Serve
            // this one request, then close the connection.
            let streamed = rq.body_length().is_some_and(|n| n > 1024)
                || rq
                    .headers()
                    .iter()
                    .any(|h| h.field.equiv("Transfer-Encoding") || h.field.equiv("Expect"));
            if streamed {
                self.no_more_requests = true;
            }

            // returning the request
            return Some(rq);
        }
    }
}

/// Parses a "HTTP/1.1" string.
fn parse_http_version(version: &str) -> Result<HTTPVersion, ReadError> {
    let (major, minor) = match version {
        "HTTP/0.9" => (0, 9),
        "HTTP/1.0" => (1, 0),
        "HTTP/1.1" => (1, 1),
        "HTTP/2.0" => (2, 0),
        "HTTP/3.0" => (3, 0),
        _ => return Err(ReadError::WrongRequestLine),
    };

    Ok(HTTPVersion(major, minor))
}

/// Parses the request line of the request.
/// eg. GET / HTTP/1.1
fn parse_request_line(line: &str) -> Result<(Method, String, HTTPVersion), ReadError> {
    let mut parts = line.split(' ');

    let method = parts.next().and_then(|w| w.parse().ok());
    let path = parts.next().map(ToOwned::to_owned);
    let version = parts.next().and_then(|w| parse_http_version(w).ok());

    method
        .and_then(|method| Some((method, path?, version?)))
        .ok_or(ReadError::WrongRequestLine)
}

#[cfg(test)]
mod test {
    #[test]
    fn test_parse_request_line() {
        let (method, path, ver) = super::parse_request_line("GET /hello HTTP/1.1").unwrap();

        assert!(method == crate::Method::Get);
        assert!(path == "/hello");
        assert!(ver == crate::common::HTTPVersion(1, 1));

        assert!(super::parse_request_line("GET /hello").is_err());
        assert!(super::parse_request_line("qsd qsd qsd").is_err());
    }
}
