//! # tiny_http, as forked by minijwt
//!
//! An HTTP/1.1 server for a [`Handler`]: a function from a [`Request`] (head
//! and body, read in full) to a [`Response`]. This is tiny_http 0.12.0 with
//! its connection layer replaced (see `PATCHES.md` beside this crate): the
//! request and response types, header and method types and the response
//! writer are tiny_http's; how connections are accepted, read, timed and
//! closed is new.
//!
//! ## The connection model
//!
//! - One thread accepts. Each accepted connection gets a thread of its own,
//!   up to [`Limits::max_connections`]; past that, a connection is answered
//!   `503` (from [`Handler::refuse`]) and closed at once, without a thread.
//! - A connection's thread reads one request head, then its body, calls the
//!   handler, writes the response, and only then reads the next head: one
//!   request in flight per connection, no queue between threads. Pipelined
//!   requests wait in the connection's own buffer (at most
//!   [`Limits::max_head`] plus one read) and, beyond it, in the kernel.
//! - Every wait has a deadline: the head ([`Limits::head_timeout`], which is
//!   also how long an idle keep-alive connection is kept), the body
//!   ([`Limits::body_timeout`]) and writing the response
//!   ([`Limits::write_timeout`]). A slow client holds its own thread, never
//!   another client's.
//! - Framing is strict (RFC 9112): what two parsers could read differently
//!   is refused with 400 and the connection closes ([`head`]).
//!
//! ```
//! use tiny_http::{Limits, Response, Server};
//!
//! let server = Server::http("127.0.0.1:0").unwrap();
//! let running = server
//!     .serve(Limits::default(), |request: tiny_http::Request| {
//!         Response::from_string(format!("you asked for {}", request.url())).boxed()
//!     })
//!     .unwrap();
//! assert!(running.server_addr().to_ip().unwrap().port() > 0);
//! running.shutdown();
//! ```
#![forbid(unsafe_code)]
#![deny(rust_2018_idioms)]
#![allow(clippy::match_like_matches_macro)]
// Lints newer than the 2022 upstream code they would flag in response.rs.
#![allow(clippy::doc_overindented_list_items, clippy::unnecessary_map_or)]

use std::error::Error;
use std::io::Write;
use std::net::{Shutdown, SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use connection::Connection;

pub use common::{HTTPVersion, Header, HeaderField, Method, StatusCode};
pub use connection::{ConfigListenAddr, ListenAddr, Listener};
pub use request::Request;
pub use response::{Response, ResponseBox};

mod common;
mod connection;
pub mod head;
mod http1;
mod request;
mod response;
mod util;

/// Everything a client can make the server spend, bounded. The defaults are
/// tiny_http's own; an application sets its own (minijwt:
/// `src/http/server.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once; past it a new one gets `503` and is closed.
    pub max_connections: usize,
    /// Bytes of a request head (request line and headers); past it `431`
    /// (or `414` while still in the request line).
    pub max_head: usize,
    /// Bytes of the request target; past it `414`.
    pub max_target: usize,
    /// Bytes of the method; past it `501` (no server implements such a method).
    pub max_method: usize,
    /// Header fields in one request; past it `431`.
    pub max_headers: usize,
    /// Time for a request head to arrive, counted from the end of the
    /// previous response (or the accept): an idle keep-alive connection is
    /// closed after it, a partial head gets `408`.
    pub head_timeout: Duration,
    /// Bytes of a request body (`Content-Length`); past it `413`, unread.
    pub max_body: usize,
    /// Time for the whole body to arrive, from the end of the head; past it `408`.
    pub body_timeout: Duration,
    /// Time to write a whole response; a client that does not read it in
    /// time loses its connection.
    pub write_timeout: Duration,
    /// After a refusal the server stops writing and reads (and discards) what
    /// the client still sends, for at most this long and [`Limits::max_body`]
    /// bytes, so that the client sees the refusal rather than a reset.
    pub linger: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            max_head: 64 * 1024,
            max_target: 8 * 1024,
            max_method: 32,
            max_headers: 100,
            head_timeout: Duration::from_secs(10),
            max_body: 64 * 1024,
            body_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(10),
            linger: Duration::from_secs(1),
        }
    }
}

/// Why the transport answered a request itself, without calling
/// [`Handler::handle`]. Every refusal but [`Refusal::HandlerPanicked`] closes
/// the connection after its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the head or its framing is malformed or ambiguous (the reason
    /// says which), or the body ended before its `Content-Length`.
    BadRequest(&'static str),
    /// 408: the head or the body did not arrive in time.
    Timeout,
    /// 411: a chunked request body (only bodies with a `Content-Length` are read).
    LengthRequired,
    /// 413: `Content-Length` over [`Limits::max_body`].
    BodyTooLarge,
    /// 414: the request target over [`Limits::max_target`].
    TargetTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: the head over [`Limits::max_head`] or [`Limits::max_headers`].
    HeadTooLarge,
    /// 501: a method longer than [`Limits::max_method`].
    MethodTooLong,
    /// 500: the handler panicked (the connection stays open).
    HandlerPanicked,
    /// 503: [`Limits::max_connections`] connections are open.
    Busy,
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
}

impl Refusal {
    /// The status code it is answered with.
    ///
    /// ```
    /// assert_eq!(tiny_http::Refusal::TargetTooLong.status(), 414);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Timeout => 408,
            Refusal::LengthRequired => 411,
            Refusal::BodyTooLarge => 413,
            Refusal::TargetTooLong => 414,
            Refusal::ExpectationFailed => 417,
            Refusal::HeadTooLarge => 431,
            Refusal::HandlerPanicked => 500,
            Refusal::MethodTooLong => 501,
            Refusal::Busy => 503,
            Refusal::VersionNotSupported => 505,
        }
    }

    /// One sentence for a person.
    ///
    /// ```
    /// assert_eq!(tiny_http::Refusal::BodyTooLarge.description(), "the request body is too large");
    /// ```
    pub fn description(&self) -> &'static str {
        match self {
            Refusal::BadRequest(reason) => reason,
            Refusal::Timeout => "the request was not received in time",
            Refusal::LengthRequired => "a request body needs a Content-Length (chunked bodies are not read)",
            Refusal::BodyTooLarge => "the request body is too large",
            Refusal::TargetTooLong => "the request target is too long",
            Refusal::ExpectationFailed => "only Expect: 100-continue is supported",
            Refusal::HeadTooLarge => "the request head is too large",
            Refusal::HandlerPanicked => "internal error",
            Refusal::MethodTooLong => "the method is longer than any this server implements",
            Refusal::Busy => "too many open connections; retry shortly",
            Refusal::VersionNotSupported => "only HTTP/1.0 and HTTP/1.1 are supported",
        }
    }
}

/// What the server calls: on a connection's own thread, one request at a
/// time per connection, many connections at once.
pub trait Handler: Send + Sync + 'static {
    /// Answers a request.
    fn handle(&self, request: Request) -> ResponseBox;

    /// The response for a request the transport refused; by default the
    /// status code with the description as plain text.
    fn refuse(&self, refusal: Refusal) -> ResponseBox {
        Response::from_string(refusal.description())
            .with_status_code(refusal.status())
            .boxed()
    }
}

impl<F> Handler for F
where
    F: Fn(Request) -> ResponseBox + Send + Sync + 'static,
{
    fn handle(&self, request: Request) -> ResponseBox {
        self(request)
    }
}

/// A bound listening socket, not yet serving.
pub struct Server {
    listener: Listener,
    addr: ListenAddr,
}

impl Server {
    /// Binds a TCP address.
    pub fn http<A: ToSocketAddrs>(addr: A) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::from_socket_addrs(addr)?,
        })
    }

    /// Binds a Unix socket path.
    #[cfg(unix)]
    pub fn http_unix(path: &std::path::Path) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Server::new(ServerConfig {
            addr: ConfigListenAddr::unix_from_path(path),
        })
    }

    /// Binds what `config` names.
    pub fn new(config: ServerConfig) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        Self::from_listener(config.addr.bind()?)
    }

    /// Serves on a listener bound elsewhere.
    pub fn from_listener<L: Into<Listener>>(
        listener: L,
    ) -> Result<Server, Box<dyn Error + Send + Sync + 'static>> {
        let listener = listener.into();
        let addr = listener.local_addr()?;
        Ok(Server { listener, addr })
    }

    /// The address it listens on (with the real port when `:0` was asked).
    pub fn server_addr(&self) -> ListenAddr {
        self.addr.clone()
    }

    /// Starts the accept thread and serves every connection with `handler`
    /// within `limits`, until [`Running::shutdown`].
    pub fn serve<H: Handler>(self, limits: Limits, handler: H) -> std::io::Result<Running> {
        let shared = Arc::new(Shared {
            limits,
            handler: Box::new(handler),
            stop: AtomicBool::new(false),
            open: Mutex::new(0),
            closed: Condvar::new(),
        });
        let Server { listener, addr } = self;
        let accept = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("http-accept".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(Running {
            addr,
            shared,
            accept: Some(accept),
        })
    }
}

/// Where to listen.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// A TCP address or a Unix socket path.
    pub addr: ConfigListenAddr,
}

/// Reads how many connections a [`Running`] server has open: 0 once the
/// server is gone.
#[derive(Clone)]
pub struct OpenConnections(std::sync::Weak<Shared>);

impl OpenConnections {
    /// Connections open now.
    pub fn get(&self) -> usize {
        self.0.upgrade().map_or(0, |shared| *lock(&shared.open))
    }
}

/// A server serving; stops on [`Running::shutdown`] or when dropped.
pub struct Running {
    addr: ListenAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl Running {
    /// The address it listens on.
    pub fn server_addr(&self) -> ListenAddr {
        self.addr.clone()
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        *lock(&self.shared.open)
    }

    /// A handle that reads [`Running::open_connections`] from elsewhere
    /// (a metrics endpoint); it does not keep the server alive.
    pub fn open_connections_handle(&self) -> OpenConnections {
        OpenConnections(Arc::downgrade(&self.shared))
    }

    /// Stops accepting, lets each connection finish the request it is
    /// serving (idle ones close within [`STOP_POLL`]), and waits for them, at
    /// most as long as one request may take. Returns how many were still
    /// open then (0 normally).
    pub fn shutdown(mut self) -> usize {
        self.stop_accepting();
        let limits = &self.shared.limits;
        let patience = limits.head_timeout + limits.body_timeout + limits.write_timeout + limits.linger;
        let deadline = Instant::now() + patience;
        let mut open = lock(&self.shared.open);
        while *open > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            open = match self.shared.closed.wait_timeout(open, left) {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        *open
    }

    fn stop_accepting(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let Some(accept) = self.accept.take() else { return };
        // The accept thread is blocked in accept(): a connection wakes it.
        // Connecting can fail while the process is out of descriptors, so it
        // is tried again until the thread has ended; the stopping connections
        // free descriptors within STOP_POLL, idle or not within head_timeout.
        // Past that the thread is left behind (it ends with the process).
        let deadline = Instant::now() + self.shared.limits.head_timeout + STOP_POLL;
        while !accept.is_finished() && Instant::now() < deadline {
            self.wake_accept();
            let waited = Instant::now() + Duration::from_millis(50);
            while !accept.is_finished() && Instant::now() < waited {
                thread::sleep(Duration::from_millis(1));
            }
        }
        if accept.is_finished() {
            let _ = accept.join();
        }
        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::fs::remove_file(path);
            }
        }
    }

    fn wake_accept(&self) {
        if let ListenAddr::IP(addr) = &self.addr {
            let mut wake = *addr;
            if wake.ip().is_unspecified() {
                wake.set_ip(match wake {
                    SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                    SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                });
            }
            let _ = TcpStream::connect_timeout(&wake, Duration::from_millis(200));
        }
        #[cfg(unix)]
        if let ListenAddr::Unix(addr) = &self.addr {
            if let Some(path) = addr.as_pathname() {
                let _ = std::os::unix::net::UnixStream::connect(path);
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop_accepting();
    }
}

/// How often an idle connection looks whether the server is stopping.
pub const STOP_POLL: Duration = Duration::from_millis(500);

/// After an accept error (out of descriptors, say) the accept thread waits
/// this long, doubling up to [`ACCEPT_BACKOFF_MAX`] while errors go on;
/// meanwhile new connections wait in the kernel's listen queue.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_millis(500);

/// What the accept thread and the connection threads share.
pub(crate) struct Shared {
    pub(crate) limits: Limits,
    pub(crate) handler: Box<dyn Handler>,
    pub(crate) stop: AtomicBool,
    open: Mutex<usize>,
    closed: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn accept_loop(listener: &Listener, shared: &Arc<Shared>) {
    let mut backoff = ACCEPT_BACKOFF_MIN;
    while !shared.stop.load(Ordering::SeqCst) {
        let (connection, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            // Out of descriptors (EMFILE) and the like: the error passes when
            // connections close, so wait and accept again; never give up the
            // listening socket.
            Err(_) => {
                thread::sleep(backoff);
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                continue;
            }
        };
        backoff = ACCEPT_BACKOFF_MIN;
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        {
            let mut open = lock(&shared.open);
            if *open >= shared.limits.max_connections {
                drop(open);
                refuse_busy(connection, shared.handler.as_ref());
                continue;
            }
            *open += 1;
        }
        let guard = OpenConnection(shared.clone());
        let spawned = thread::Builder::new()
            .name("http-connection".into())
            .spawn(move || {
                let guard = guard;
                http1::serve(connection, peer, &guard.0);
            });
        // The system refused a thread (its process limit, memory): that
        // connection closes (the closure and its guard are dropped), the
        // server goes on.
        drop(spawned);
    }
}

/// Counts a connection open while it lives, and wakes `shutdown` when the
/// last one closes (even if its thread panicked).
struct OpenConnection(Arc<Shared>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        let mut open = lock(&self.0.open);
        *open -= 1;
        if *open == 0 {
            self.0.closed.notify_all();
        }
    }
}

/// Over the connection limit: the 503 goes into the new socket's empty send
/// buffer without blocking, what the client already sent is read so that
/// closing does not reset the connection before the 503 is read, and the
/// socket closes. The accept thread never waits for a client.
fn refuse_busy(mut connection: Connection, handler: &dyn Handler) {
    let mut busy = Vec::with_capacity(512);
    let rendered = http1::write_response(
        &mut busy,
        handler.refuse(Refusal::Busy),
        HTTPVersion(1, 1),
        false,
        true,
    );
    if rendered.is_err() || connection.set_nonblocking(true).is_err() {
        return;
    }
    let _ = connection.write_all(&busy);
    let _ = connection.shutdown(Shutdown::Write);
    let mut sink = [0u8; 4096];
    for _ in 0..16 {
        match std::io::Read::read(&mut connection, &mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
}
