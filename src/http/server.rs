//! The socket side: `tiny_http` accepts connections and parses HTTP; worker
//! threads take requests, read bodies within limits, call the router, and
//! log one line per request.

use std::io::Write;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{router, Request, Response, MAX_BODY};
use crate::auth::Auth;

/// The longest a request body may take to arrive.
const BODY_DEADLINE: Duration = Duration::from_secs(10);

/// How long the logger lets lines accumulate after writing a batch.
const LOG_BATCH_PAUSE: Duration = Duration::from_millis(20);

/// How often an idle worker looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// A server running on its own threads.
///
/// ```
/// use std::sync::Arc;
/// use minijwt::auth::{Auth, AuthConfig, SystemClock};
/// use minijwt::http::server::RunningServer;
/// use minijwt::{store::Store, Hs256Key};
///
/// let auth = Auth::new(Store::open_in_memory().unwrap(), Hs256Key::new(&[7; 32]).unwrap(),
///                      AuthConfig::default(), Arc::new(SystemClock)).unwrap();
/// let server = RunningServer::start(Arc::new(auth), "127.0.0.1:0", 2, false).unwrap();
/// assert!(server.addr().port() > 0);
/// server.shutdown();
/// ```
pub struct RunningServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<()>>,
    logger: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Binds `addr` and starts `workers` threads; `log` prints one line per
    /// request on stderr.
    pub fn start(auth: Arc<Auth>, addr: &str, workers: usize, log: bool) -> std::io::Result<RunningServer> {
        let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("not an IP address"))?;
        let server = Arc::new(server);
        let stop = Arc::new(AtomicBool::new(false));
        let (log, logger) = match log {
            true => {
                let (sender, thread) = start_logger()?;
                (Some(sender), Some(thread))
            }
            false => (None, None),
        };
        let workers = (0..workers.max(1))
            .map(|i| {
                let (server, stop, auth, log) = (server.clone(), stop.clone(), auth.clone(), log.clone());
                std::thread::Builder::new()
                    .name(format!("minijwt-worker-{i}"))
                    .spawn(move || work(&server, &stop, &auth, log.as_ref()))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(RunningServer {
            addr,
            stop,
            workers,
            logger,
        })
    }

    /// The address it listens on (with the real port when `:0` was asked).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops taking requests, answers those already received, and waits for
    /// the workers. The listening socket closes with the last worker.
    pub fn shutdown(self) {
        self.stop.store(true, Ordering::SeqCst);
        for worker in self.workers {
            let _ = worker.join();
        }
        // The workers held the last senders: the logger drains and ends.
        if let Some(logger) = self.logger {
            let _ = logger.join();
        }
    }
}

/// Log lines go through a channel to one thread that writes them in batches:
/// a worker pays for formatting a line, not for a write to stderr.
fn start_logger() -> std::io::Result<(Sender<String>, JoinHandle<()>)> {
    let (sender, lines) = channel::<String>();
    let thread = std::thread::Builder::new()
        .name("minijwt-log".to_owned())
        .spawn(move || {
            let mut out = std::io::BufWriter::new(std::io::stderr());
            while let Ok(line) = lines.recv() {
                let _ = writeln!(out, "{line}");
                // Write whatever else is already waiting, then flush: lines reach
                // stderr within one batch of being produced.
                while let Ok(line) = lines.try_recv() {
                    let _ = writeln!(out, "{line}");
                }
                let _ = out.flush();
                // Under load, let lines pile up for a moment: a worker's send
                // to a sleeping logger wakes nobody, and one write carries many.
                std::thread::sleep(LOG_BATCH_PAUSE);
            }
        })?;
    Ok((sender, thread))
}

fn work(server: &tiny_http::Server, stop: &AtomicBool, auth: &Auth, log: Option<&Sender<String>>) {
    while !stop.load(Ordering::SeqCst) {
        if let Ok(Some(request)) = server.recv_timeout(POLL) {
            serve(auth, request, log);
        }
    }
    // Requests already received are answered, not dropped: tiny_http would
    // answer them 500 when the server is dropped.
    while let Ok(Some(request)) = server.try_recv() {
        serve(auth, request, log);
    }
}

fn serve(auth: &Auth, mut raw: tiny_http::Request, log: Option<&Sender<String>>) {
    let started = Instant::now();
    let method = raw.method().as_str().to_owned();
    let path = raw.url().split('?').next().unwrap_or_default().to_owned();

    let response = match read_body(&mut raw) {
        Err(response) => response,
        Ok(body) => {
            let request = Request {
                method: method.clone(),
                path: raw.url().to_owned(),
                headers: raw
                    .headers()
                    .iter()
                    .map(|h| (h.field.to_string(), h.value.to_string()))
                    .collect(),
                body,
                client: raw.remote_addr().map(|a| a.ip()),
            };
            // A bug in a handler must cost one request, not the server.
            catch_unwind(AssertUnwindSafe(|| router::handle(auth, &request)))
                .unwrap_or_else(|_| Response::error(500, "server_error", "internal error"))
        }
    };
    let status = response.status;
    let _ = raw.respond(to_tiny(response));
    if let Some(log) = log {
        // Path without query; never a header or body: they carry tokens and passwords.
        let _ = log.send(format!(
            "{} {method} {} {status} {}us",
            crate::time::utc(crate::Validation::default().now()),
            path.escape_debug(),
            started.elapsed().as_micros()
        ));
    }
}

/// Reads the body, at most [`MAX_BODY`] bytes; a larger one is a 413 before
/// it is read (when announced) or as soon as it passes the limit. A body that
/// trickles in for longer than [`BODY_DEADLINE`], or stalls for longer than
/// tiny_http's socket timeout, is a 408: a slow client must not keep a
/// worker.
fn read_body(raw: &mut tiny_http::Request) -> Result<Vec<u8>, Response> {
    let too_large = || Response::error(413, "payload_too_large", "the body is over 64 KiB");
    let too_slow = || Response::error(408, "request_timeout", "the body was not received in time");
    let announced = raw.body_length();
    if announced.is_some_and(|n| n > MAX_BODY) {
        return Err(too_large());
    }
    // No length and not chunked (a GET, say): no body, nothing to read.
    let chunked = raw.headers().iter().any(|h| h.field.equiv("Transfer-Encoding"));
    if announced == Some(0) || (announced.is_none() && !chunked) {
        return Ok(Vec::new());
    }
    let started = Instant::now();
    let reader = raw.as_reader();
    let mut body = Vec::new();
    let mut chunk = [0u8; 8 * 1024];
    loop {
        match reader.read(&mut chunk) {
            // tiny_http's reader of an announced length ends quietly when the
            // client closes early: a cut body must not pass for a whole one.
            Ok(0) if announced.is_some_and(|n| body.len() < n) => {
                return Err(Response::error(
                    400,
                    "invalid_request",
                    "the body ended before its Content-Length",
                ))
            }
            Ok(0) => return Ok(body),
            Ok(n) => body.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                return Err(too_slow())
            }
            Err(_) => {
                return Err(Response::error(
                    400,
                    "invalid_request",
                    "the body could not be read",
                ))
            }
        }
        if body.len() > MAX_BODY {
            return Err(too_large());
        }
        if started.elapsed() > BODY_DEADLINE {
            return Err(too_slow());
        }
    }
}

fn to_tiny(response: Response) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut out = tiny_http::Response::from_data(response.body).with_status_code(response.status);
    for (name, value) in &response.headers {
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            out.add_header(header);
        }
    }
    out
}
