//! The socket side: the forked `tiny_http` serves each connection on its own
//! thread within the limits set here, and calls `App` with each request,
//! body read; `App` calls the router and logs one line per request.
//!
//! Every limit a client meets on the wire is in this file: [`limits`]. The
//! table in docs/security.md lists them with what a client gets past each.

use std::prelude::rust_2021::*;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tiny_http::{Limits, Refusal, ResponseBox};

use super::metrics::{Metrics, MetricsServer};
use super::proxy::TrustedProxies;
use super::{router, Request, Response, MAX_BODY};
use crate::auth::Auth;

/// Connections served at once unless `--max-connections` says otherwise.
pub const MAX_CONNECTIONS: usize = 1024;

/// The longest a request head may take to arrive (and an idle keep-alive
/// connection may stay open).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a request body may take to arrive, from the end of its head.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest writing a response may take; a client that does not read it
/// loses its connection.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head (request line and headers), in bytes.
pub const MAX_HEAD: usize = 64 * 1024;

/// Longest request target, in bytes.
pub const MAX_TARGET: usize = 8 * 1024;

/// Longest method, in bytes (the API's longest is 6).
pub const MAX_METHOD: usize = 32;

/// Most header fields in one request.
pub const MAX_HEADERS: usize = 100;

/// How long the log lets lines accumulate after writing a batch.
const LOG_BATCH_PAUSE: Duration = Duration::from_millis(20);

/// Log lines waiting for the logger thread. Past it (stderr slower than the
/// requests, or blocked) lines are dropped and counted, never queued without
/// bound: a client must not be able to grow the server through its log.
const LOG_QUEUE: usize = 4096;

/// The most of a request's path a log line keeps (the rest is cut).
const LOG_PATH: usize = 200;

/// How long `shutdown` waits for the logger to write what is queued: stderr
/// may be a pipe nobody reads.
const LOG_DRAIN: Duration = Duration::from_secs(2);

/// The transport's limits for `max_connections` connections.
///
/// ```
/// let limits = minijwt::http::server::limits(64);
/// assert_eq!((limits.max_connections, limits.max_body), (64, 65_536));
/// ```
pub fn limits(max_connections: usize) -> Limits {
    Limits {
        max_connections,
        max_head: MAX_HEAD,
        max_target: MAX_TARGET,
        max_method: MAX_METHOD,
        max_headers: MAX_HEADERS,
        head_timeout: HEAD_TIMEOUT,
        max_body: MAX_BODY,
        body_timeout: BODY_TIMEOUT,
        write_timeout: WRITE_TIMEOUT,
        linger: Duration::from_secs(1),
    }
}

/// How to run the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Connections served at once; past it a new one gets 503 and is closed.
    pub max_connections: usize,
    /// One line per request on stderr (never a header or a body).
    pub log: bool,
    /// Reverse proxies whose `Forwarded` / `X-Forwarded-For` name the client.
    pub trusted_proxies: TrustedProxies,
    /// Where to serve `GET /metrics` (a listener of its own, never the
    /// public one); `None`, the default: nowhere.
    pub metrics_addr: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_connections: MAX_CONNECTIONS,
            log: false,
            trusted_proxies: TrustedProxies::default(),
            metrics_addr: None,
        }
    }
}

/// A server running on its own threads.
///
/// ```
/// use std::sync::Arc;
/// use minijwt::auth::{Auth, AuthConfig, SystemClock};
/// use minijwt::http::server::{Options, RunningServer};
/// use minijwt::{store::Store, Hs256Key};
///
/// let auth = Auth::new(Store::open_in_memory().unwrap(), Hs256Key::new(&[7; 32]).unwrap(),
///                      AuthConfig::default(), Arc::new(SystemClock)).unwrap();
/// let server = RunningServer::start(Arc::new(auth), "127.0.0.1:0", Options::default()).unwrap();
/// assert!(server.addr().port() > 0);
/// server.shutdown();
/// ```
pub struct RunningServer {
    addr: SocketAddr,
    transport: tiny_http::Running,
    logger: Option<JoinHandle<()>>,
    metrics: Option<MetricsServer>,
}

impl RunningServer {
    /// Binds `addr` and serves.
    pub fn start(auth: Arc<Auth>, addr: &str, options: Options) -> std::io::Result<RunningServer> {
        let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("not an IP address"))?;
        let (log, logger) = match options.log {
            true => {
                let (sender, thread) = start_logger()?;
                (Some(sender), Some(thread))
            }
            false => (None, None),
        };
        let metrics = Arc::new(Metrics::default());
        let app = App {
            auth: auth.clone(),
            log,
            proxies: options.trusted_proxies,
            metrics: metrics.clone(),
        };
        let transport = server.serve(limits(options.max_connections.max(1)), app)?;
        // Started after the public listener, whose connections it counts; if
        // it cannot start, dropping `transport` stops the public one.
        let metrics = match &options.metrics_addr {
            Some(at) => Some(MetricsServer::start(
                at,
                metrics,
                auth,
                transport.open_connections_handle(),
            )?),
            None => None,
        };
        Ok(RunningServer {
            addr,
            transport,
            logger,
            metrics,
        })
    }

    /// The address it listens on (with the real port when `:0` was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.transport.open_connections()
    }

    /// The metrics listener's address, when `Options::metrics_addr` asked for one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(MetricsServer::addr)
    }

    /// Stops accepting, answers the requests being served, and waits for
    /// their connections to close.
    pub fn shutdown(self) {
        if let Some(metrics) = self.metrics {
            metrics.shutdown();
        }
        // The transport held the last sender: the logger drains and ends,
        // unless stderr blocks it; then it is left behind after LOG_DRAIN.
        self.transport.shutdown();
        if let Some(logger) = self.logger {
            let deadline = Instant::now() + LOG_DRAIN;
            while !logger.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if logger.is_finished() {
                let _ = logger.join();
            }
        }
    }
}

/// One line of the request log, formatted by the logger thread: a
/// connection pays for a channel send, not for formatting or writing.
enum LogLine {
    Request {
        at: i64,
        method: String,
        /// Without the query: it may carry what should not be logged.
        path: String,
        status: u16,
        micros: u128,
    },
    Refused {
        at: i64,
        status: u16,
        code: &'static str,
    },
}

/// The sending side of the request log: a bounded queue that drops (and
/// counts) what does not fit.
struct Log {
    lines: SyncSender<LogLine>,
    dropped: Arc<AtomicUsize>,
}

impl Log {
    fn send(&self, line: LogLine) {
        if let Err(TrySendError::Full(_)) = self.lines.try_send(line) {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Log lines go through a bounded channel to one thread that writes them in batches.
fn start_logger() -> std::io::Result<(Log, JoinHandle<()>)> {
    let (sender, lines) = sync_channel::<LogLine>(LOG_QUEUE);
    let dropped = Arc::new(AtomicUsize::new(0));
    let log = Log {
        lines: sender,
        dropped: dropped.clone(),
    };
    let thread = std::thread::Builder::new()
        .name("minijwt-log".to_owned())
        .spawn(move || write_log(&lines, &dropped))?;
    Ok((log, thread))
}

fn write_log(lines: &Receiver<LogLine>, dropped: &AtomicUsize) {
    let mut out = std::io::BufWriter::new(std::io::stderr());
    // The date changes once a second: formatted once a second.
    let mut stamp = (i64::MIN, String::new());
    while let Ok(line) = lines.recv() {
        write_line(&mut out, &mut stamp, line);
        // Write whatever else is already waiting, then flush: lines reach
        // stderr within one batch of being produced.
        while let Ok(line) = lines.try_recv() {
            write_line(&mut out, &mut stamp, line);
        }
        let lost = dropped.swap(0, Ordering::Relaxed);
        if lost > 0 {
            let _ = writeln!(
                out,
                "{} log: {lost} lines dropped (the log could not keep up)",
                stamp.1
            );
        }
        let _ = out.flush();
        // Under load, let lines pile up for a moment: a send to a sleeping
        // logger wakes nobody, and one write carries many.
        std::thread::sleep(LOG_BATCH_PAUSE);
    }
}

/// Writes one log line; `stamp` caches the formatted date of one second.
fn write_line(out: &mut impl Write, stamp: &mut (i64, String), line: LogLine) {
    let at = match &line {
        LogLine::Request { at, .. } | LogLine::Refused { at, .. } => *at,
    };
    if stamp.0 != at {
        *stamp = (at, crate::time::utc(at));
    }
    let _ = match line {
        LogLine::Request {
            method,
            path,
            status,
            micros,
            ..
        } => writeln!(
            out,
            "{} {method} {} {status} {micros}us",
            stamp.1,
            path.escape_debug()
        ),
        LogLine::Refused { status, code, .. } => writeln!(out, "{} refused {status} {code}", stamp.1),
    };
}

/// What the transport calls for each request.
struct App {
    auth: Arc<Auth>,
    log: Option<Log>,
    proxies: TrustedProxies,
    metrics: Arc<Metrics>,
}

impl tiny_http::Handler for App {
    fn handle(&self, raw: tiny_http::Request) -> ResponseBox {
        let started = Instant::now();
        let headers: Vec<(String, String)> = raw
            .headers()
            .iter()
            .map(|h| (h.field.to_string(), h.value.to_string()))
            .collect();
        let request = Request {
            method: raw.method().as_str().to_owned(),
            path: raw.url().to_owned(),
            client: raw.remote_addr().map(|a| self.proxies.client(a.ip(), &headers)),
            headers,
            body: raw.into_body(),
        };
        let (response, matched) = router::handle_matched(&self.auth, &request);
        let took = started.elapsed();
        self.metrics.record(matched, response.status, took);
        if let Some(log) = &self.log {
            let mut path = request.path;
            let mut end = path.find('?').unwrap_or(path.len()).min(LOG_PATH);
            while !path.is_char_boundary(end) {
                end -= 1;
            }
            path.truncate(end);
            log.send(LogLine::Request {
                at: crate::Validation::default().now(),
                method: request.method,
                path,
                status: response.status,
                micros: took.as_micros(),
            });
        }
        to_tiny(response)
    }

    /// The transport's refusals in the API's error format.
    fn refuse(&self, refusal: Refusal) -> ResponseBox {
        let code = match refusal {
            Refusal::BadRequest(_) => "invalid_request",
            Refusal::Timeout => "request_timeout",
            Refusal::LengthRequired => "length_required",
            Refusal::BodyTooLarge => "payload_too_large",
            Refusal::TargetTooLong => "uri_too_long",
            Refusal::ExpectationFailed => "expectation_failed",
            Refusal::HeadTooLarge => "request_header_fields_too_large",
            Refusal::HandlerPanicked => "server_error",
            Refusal::MethodTooLong => "not_implemented",
            Refusal::Busy => "temporarily_unavailable",
            Refusal::VersionNotSupported => "http_version_not_supported",
        };
        let mut response = Response::error(refusal.status(), code, refusal.description());
        if refusal != Refusal::Busy {
            self.metrics.record_refusal();
        }
        if refusal == Refusal::Busy {
            response = response.with_header("Retry-After", "1");
        }
        // Busy is answered by the accept thread to connections it does not
        // serve: not a request to log.
        if let Some(log) = self.log.as_ref().filter(|_| refusal != Refusal::Busy) {
            log.send(LogLine::Refused {
                at: crate::Validation::default().now(),
                status: refusal.status(),
                code,
            });
        }
        to_tiny(response)
    }
}

pub(super) fn to_tiny(response: Response) -> ResponseBox {
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    for (name, value) in &response.headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    }
    out.boxed()
}
