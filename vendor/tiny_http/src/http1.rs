//! One connection, start to end, on its own thread: read a head, read its
//! body, call the handler, write the response, repeat. Nothing here runs
//! ahead: the next head is read only after the response to the previous one
//! has been written, so a client that sends faster than it reads finds the
//! server waiting for it, not piling up work for it.

use std::io::{self, BufWriter, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::connection::Connection;
use crate::head::{self, Head};
use crate::{HTTPVersion, Method, Refusal, Request, ResponseBox, Shared, STOP_POLL};

/// Bytes read from the socket at a time, and the buffer a connection starts
/// with (grown up to `max_head` only for a head that needs it).
const READ_CHUNK: usize = 4096;

/// A socket timeout is set again only when it is this far from the one
/// wanted: a deadline may be overshot by this much, and a fast connection
/// makes no `setsockopt` call for most of its reads and writes.
const TIMEOUT_SLACK: Duration = Duration::from_millis(50);

/// Serves `stream` until it closes, fails, misbehaves or the server stops.
pub(crate) fn serve(stream: Connection, peer: Option<SocketAddr>, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let mut connection = Http1 {
        io: Timed::new(stream),
        buf: vec![0; READ_CHUNK],
        start: 0,
        end: 0,
        peer,
        shared,
    };
    connection.run();
}

struct Http1<'s> {
    io: Timed,
    /// Bytes received and not yet used are `buf[start..end]`.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    peer: Option<SocketAddr>,
    shared: &'s Shared,
}

impl Http1<'_> {
    fn run(&mut self) {
        let limits = &self.shared.limits;
        loop {
            let head_len = match self.next_head() {
                Ok(Some(len)) => len,
                Ok(None) => return,
                Err(refusal) => return self.refuse(refusal),
            };
            let parsed = head::parse(&self.buf[self.start..self.start + head_len], limits);
            self.start += head_len;
            let head = match parsed {
                Ok(head) => head,
                Err(refusal) => return self.refuse(refusal),
            };
            if head.content_length > limits.max_body as u64 {
                return self.refuse(Refusal::BodyTooLarge);
            }
            let body_len = head.content_length as usize;
            if head.expect_continue && body_len > self.end - self.start {
                let deadline = Instant::now() + limits.write_timeout;
                if self
                    .io
                    .write_all_by(b"HTTP/1.1 100 Continue\r\n\r\n", deadline)
                    .is_err()
                {
                    return;
                }
            }
            let body = match self.read_body(body_len) {
                Ok(body) => body,
                Err(refusal) => return self.refuse(refusal),
            };
            if !self.answer(head, body) {
                return;
            }
        }
    }

    /// Calls the handler and writes its response; false when the connection
    /// is to close.
    fn answer(&mut self, head: Head, body: Vec<u8>) -> bool {
        let Head {
            method,
            target,
            version,
            headers,
            close,
            ..
        } = head;
        let head_only = method == Method::Head;
        let request = Request::new(method, target, version, headers, body, self.peer);
        let handler = &self.shared.handler;
        // A bug in a handler costs one request, not the connection's thread.
        let response = catch_unwind(AssertUnwindSafe(|| handler.handle(request)))
            .unwrap_or_else(|_| handler.refuse(Refusal::HandlerPanicked));
        let close = close || self.shared.stop.load(Ordering::Relaxed);
        let deadline = Instant::now() + self.shared.limits.write_timeout;
        let mut out = BufWriter::with_capacity(8 * 1024, self.io.writer(deadline));
        let written =
            write_response(&mut out, response, version, head_only, close).and_then(|()| out.flush());
        written.is_ok() && !close
    }

    /// Waits for a whole head in the buffer and returns its length; `None`
    /// when the client closed or stayed idle (nothing to answer).
    fn next_head(&mut self) -> Result<Option<usize>, Refusal> {
        let limits = &self.shared.limits;
        let deadline = Instant::now() + limits.head_timeout;
        let mut scanned: usize = 0;
        let mut skipped = 0;
        loop {
            // RFC 9112 §2.2: empty lines before a request line are ignored
            // (they count against the head's size all the same).
            // A request line never starts with CR, so a head that does is
            // still in those empty lines, even when one was split between
            // two reads.
            while self.buf[self.start..self.end].starts_with(b"\r\n") {
                self.start += 2;
                skipped += 2;
                scanned = scanned.saturating_sub(2);
            }
            let received = &self.buf[self.start..self.end];
            if let Some(len) = head::find_end(received, scanned)? {
                // A head may end in the last read, which can carry it past
                // the limit by up to one read: counted exactly here.
                return match len + skipped > limits.max_head {
                    true => Err(Refusal::HeadTooLarge),
                    false => Ok(Some(len)),
                };
            }
            scanned = received.len();
            if scanned + skipped >= limits.max_head {
                let in_request_line = !received.contains(&b'\n');
                return Err(match in_request_line {
                    true => Refusal::TargetTooLong,
                    false => Refusal::HeadTooLarge,
                });
            }
            let idle = scanned == 0;
            // An idle connection wakes now and then to see whether the server
            // is stopping; one that has started a head is given all its time.
            let wake = match idle {
                true => deadline.min(Instant::now() + STOP_POLL),
                false => deadline,
            };
            self.make_room(limits.max_head);
            match self.io.read_by(&mut self.buf[self.end..], wake) {
                Ok(0) => return Ok(None),
                Ok(n) => self.end += n,
                Err(e) if e.kind() == ErrorKind::TimedOut => {
                    let stopping = self.shared.stop.load(Ordering::Relaxed);
                    match (idle, stopping || Instant::now() >= deadline) {
                        (true, true) => return Ok(None),
                        (true, false) => continue,
                        (false, _) => return Err(Refusal::Timeout),
                    }
                }
                Err(_) => return Ok(None),
            }
        }
    }

    /// Makes room in `buf` for one more read: moves what is unread to the
    /// front, and grows the buffer only while a head needs it (never past
    /// `max_head` and one read); a connection back to empty shrinks back.
    fn make_room(&mut self, max_head: usize) {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if self.buf.len() > READ_CHUNK {
                self.buf.truncate(READ_CHUNK);
                self.buf.shrink_to_fit();
            }
        }
        if self.buf.len() - self.end >= READ_CHUNK / 4 {
            return;
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_CHUNK / 4 {
            let grown = (self.buf.len() * 2).min(max_head + READ_CHUNK);
            self.buf.resize(grown.max(self.end + READ_CHUNK / 4), 0);
        }
    }

    /// Reads exactly `len` bytes of body: first what is already buffered,
    /// then from the socket, within the body deadline.
    fn read_body(&mut self, len: usize) -> Result<Vec<u8>, Refusal> {
        let buffered = len.min(self.end - self.start);
        let mut body = Vec::with_capacity(len);
        body.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.start += buffered;
        if buffered == len {
            return Ok(body);
        }
        body.resize(len, 0);
        let deadline = Instant::now() + self.shared.limits.body_timeout;
        let mut have = buffered;
        while have < len {
            match self.io.read_by(&mut body[have..], deadline) {
                Ok(0) => return Err(Refusal::BadRequest("the body ended before its Content-Length")),
                Ok(n) => have += n,
                Err(e) if e.kind() == ErrorKind::TimedOut => return Err(Refusal::Timeout),
                Err(_) => return Err(Refusal::BadRequest("the body could not be read")),
            }
        }
        Ok(body)
    }

    /// Answers a refusal and closes: writes the response, shuts the write
    /// side, then reads and drops what the client still sends for a moment
    /// (bounded), so that closing with unread bytes does not reset the
    /// connection before the client has read the answer.
    fn refuse(&mut self, refusal: Refusal) {
        let limits = &self.shared.limits;
        let response = self.shared.handler.refuse(refusal);
        let deadline = Instant::now() + limits.write_timeout;
        let mut out = BufWriter::with_capacity(1024, self.io.writer(deadline));
        let written =
            write_response(&mut out, response, HTTPVersion(1, 1), false, true).and_then(|()| out.flush());
        drop(out);
        if written.is_err() || self.io.stream.shutdown(Shutdown::Write).is_err() {
            return;
        }
        let deadline = Instant::now() + limits.linger;
        let mut left = limits.max_body;
        let mut sink = [0u8; READ_CHUNK];
        while left > 0 {
            match self.io.read_by(&mut sink, deadline) {
                Ok(n) if n > 0 => left = left.saturating_sub(n),
                _ => return,
            }
        }
    }
}

/// Writes `response` with the `Connection` header the connection's fate
/// needs: `close` when it closes, `keep-alive` for an HTTP/1.0 client that
/// asked to keep it.
pub(crate) fn write_response(
    out: &mut impl Write,
    response: ResponseBox,
    version: HTTPVersion,
    head_only: bool,
    close: bool,
) -> io::Result<()> {
    let connection = match (close, version) {
        (true, _) => Some("close"),
        (false, HTTPVersion(1, 0)) => Some("keep-alive"),
        (false, _) => None,
    };
    response.raw_print(out, version, &[], head_only, connection)
}

/// A socket whose reads and writes end at deadlines rather than after a
/// fixed idle time: the socket's own timeout is set to what is left of the
/// deadline, and a read or write that times out before the deadline is
/// simply tried again.
struct Timed {
    stream: Connection,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
}

impl Timed {
    fn new(stream: Connection) -> Self {
        Timed {
            stream,
            read_timeout: None,
            write_timeout: None,
        }
    }

    fn read_by(&mut self, buf: &mut [u8], deadline: Instant) -> io::Result<usize> {
        loop {
            let left = time_left(deadline)?;
            if needs_setting(self.read_timeout, left) {
                self.stream.set_read_timeout(Some(left))?;
                self.read_timeout = Some(left);
            }
            match self.stream.read(buf) {
                Err(e) if retry(&e) => continue,
                result => return result,
            }
        }
    }

    fn write_by(&mut self, buf: &[u8], deadline: Instant) -> io::Result<usize> {
        loop {
            let left = time_left(deadline)?;
            if needs_setting(self.write_timeout, left) {
                self.stream.set_write_timeout(Some(left))?;
                self.write_timeout = Some(left);
            }
            match self.stream.write(buf) {
                Err(e) if retry(&e) => continue,
                result => return result,
            }
        }
    }

    fn write_all_by(&mut self, mut buf: &[u8], deadline: Instant) -> io::Result<()> {
        while !buf.is_empty() {
            match self.write_by(buf, deadline)? {
                0 => return Err(ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    fn writer(&mut self, deadline: Instant) -> DeadlineWriter<'_> {
        DeadlineWriter { io: self, deadline }
    }
}

/// `Write` for the response writer, every write bounded by one deadline.
struct DeadlineWriter<'a> {
    io: &'a mut Timed,
    deadline: Instant,
}

impl Write for DeadlineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.io.write_by(buf, self.deadline)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn time_left(deadline: Instant) -> io::Result<Duration> {
    match deadline.saturating_duration_since(Instant::now()) {
        left if left.is_zero() => Err(io::Error::new(ErrorKind::TimedOut, "deadline passed")),
        left => Ok(left),
    }
}

fn needs_setting(current: Option<Duration>, wanted: Duration) -> bool {
    current.is_none_or(|current| current.abs_diff(wanted) > TIMEOUT_SLACK)
}

/// A socket timeout (reported as `WouldBlock` on Unix) or a signal: the
/// caller's deadline decides whether to go on.
fn retry(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}
