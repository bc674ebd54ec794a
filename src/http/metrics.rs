//! Metrics for operators, in the Prometheus text exposition format (0.0.4),
//! served by a listener of their own ([`MetricsServer`], `--metrics-addr`),
//! never on the public one.
//!
//! What is counted here, per request, is what only the HTTP layer sees: the
//! route template a path matched (from [`Matched`], a bounded set of
//! labels, never the path) with the status class, and the time the request
//! took. Each is a fixed array of atomics, bumped without a lock or an
//! allocation. What the domain decides (logins and refreshes by outcome, the
//! login queue) and what the store meets (its errors) are read from
//! [`Auth::counts`] when the metrics are asked for: the domain counts in its
//! own terms and knows nothing of this format.

use std::prelude::rust_2021::*;

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tiny_http::{Limits, Refusal, ResponseBox};

use super::router::{Matched, ROUTES};
use super::Response;
use crate::auth::Auth;

/// The upper bounds of the latency histogram's buckets, in microseconds
/// (`+Inf` comes after them): 0.5 ms to 10 s.
pub const LATENCY_BUCKETS_MICROS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// Route labels: each of [`ROUTES`], then the page's files, then every path
/// no route matches.
const LABELS: usize = ROUTES.len() + 2;

/// Status classes 1xx to 5xx.
const CLASSES: usize = 5;

/// The label of an index below [`LABELS`].
fn label(index: usize) -> &'static str {
    match index {
        i if i < ROUTES.len() => ROUTES[i].path,
        i if i == ROUTES.len() => "(page)",
        _ => "(unknown)",
    }
}

/// The HTTP layer's counters: requests by route and status class, and their
/// latency. Shared by the connection threads (which bump it) and the metrics
/// listener (which reads it).
///
/// ```
/// use std::time::Duration;
/// use minijwt::http::{metrics::Metrics, router::Matched};
///
/// let metrics = Metrics::default();
/// metrics.record(Matched::Unknown, 404, Duration::from_millis(3));
/// assert_eq!(metrics.requests(), 1);
/// ```
#[derive(Debug)]
pub struct Metrics {
    requests: [[AtomicU64; CLASSES]; LABELS],
    /// Per bucket, not cumulative (made cumulative when written out); the
    /// last is `+Inf`.
    latency: [AtomicU64; LATENCY_BUCKETS_MICROS.len() + 1],
    latency_micros: AtomicU64,
    /// Requests the transport refused before they reached the router.
    refused: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: [const { [const { AtomicU64::new(0) }; CLASSES] }; LABELS],
            latency: [const { AtomicU64::new(0) }; LATENCY_BUCKETS_MICROS.len() + 1],
            latency_micros: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn record(&self, matched: Matched, status: u16, took: Duration) {
        let label = match matched {
            Matched::Route(i) => i.min(ROUTES.len() - 1),
            Matched::Page => ROUTES.len(),
            Matched::Unknown => ROUTES.len() + 1,
        };
        let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
        self.requests[label][class].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let bucket = LATENCY_BUCKETS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(LATENCY_BUCKETS_MICROS.len());
        self.latency[bucket].fetch_add(1, Ordering::Relaxed);
        self.latency_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Counts one request the transport refused (malformed, too large, too slow).
    pub fn record_refusal(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Requests counted so far.
    pub fn requests(&self) -> u64 {
        self.latency.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The metrics in the Prometheus text format 0.0.4, with the auth
    /// service's counts and the public listener's open connections.
    ///
    /// ```
    /// # use std::sync::Arc;
    /// # use minijwt::auth::{Auth, AuthConfig, SystemClock};
    /// # let auth = Auth::new(minijwt::store::Store::open_in_memory().unwrap(), minijwt::Hs256Key::new(&[7; 32]).unwrap(),
    /// #                      AuthConfig::default(), Arc::new(SystemClock)).unwrap();
    /// let text = minijwt::http::metrics::Metrics::default().render(&auth, 0);
    /// assert!(text.contains("# TYPE minijwt_http_requests_total counter\n"));
    /// assert!(text.contains("minijwt_http_request_duration_seconds_count 0\n"));
    /// ```
    pub fn render(&self, auth: &Auth, open_connections: usize) -> String {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let counts = auth.counts();
        let mut out = String::with_capacity(16 * 1024);
        let family = |out: &mut String, name: &str, kind: &str, help: &str| {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
        };

        family(
            &mut out,
            "minijwt_http_requests_total",
            "counter",
            "Requests answered, by route template (every unknown path as one) and status class.",
        );
        for (index, classes) in self.requests.iter().enumerate() {
            for (class, count) in classes.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "minijwt_http_requests_total{{route=\"{}\",status=\"{}xx\"}} {}",
                    label(index),
                    class + 1,
                    get(count)
                );
            }
        }

        family(
            &mut out,
            "minijwt_http_request_duration_seconds",
            "histogram",
            "Time from a request's body read to its response made, in seconds.",
        );
        let mut cumulative = 0;
        for (bucket, count) in self.latency.iter().enumerate() {
            cumulative += get(count);
            match LATENCY_BUCKETS_MICROS.get(bucket) {
                Some(bound) => {
                    let _ = writeln!(
                        out,
                        "minijwt_http_request_duration_seconds_bucket{{le=\"{}\"}} {cumulative}",
                        seconds(*bound)
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "minijwt_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
                    );
                }
            }
        }
        let _ = writeln!(
            out,
            "minijwt_http_request_duration_seconds_sum {}",
            seconds(get(&self.latency_micros))
        );
        let _ = writeln!(out, "minijwt_http_request_duration_seconds_count {cumulative}");

        family(
            &mut out,
            "minijwt_http_refused_total",
            "counter",
            "Requests the transport refused before routing (malformed, too large, too slow).",
        );
        let _ = writeln!(out, "minijwt_http_refused_total {}", get(&self.refused));

        family(
            &mut out,
            "minijwt_logins_total",
            "counter",
            "Logins by outcome: ok, failed (wrong username or password), throttled (429).",
        );
        for (outcome, count) in [
            ("ok", counts.logins_ok),
            ("failed", counts.logins_failed),
            ("throttled", counts.logins_throttled),
        ] {
            let _ = writeln!(out, "minijwt_logins_total{{outcome=\"{outcome}\"}} {count}");
        }

        family(
            &mut out,
            "minijwt_refreshes_total",
            "counter",
            "Refreshes by outcome: ok (rotated), grace (a retry given the same successor), reuse (family revoked).",
        );
        for (outcome, count) in [
            ("ok", counts.refreshes_ok),
            ("grace", counts.refreshes_grace),
            ("reuse", counts.refreshes_reuse),
        ] {
            let _ = writeln!(out, "minijwt_refreshes_total{{outcome=\"{outcome}\"}} {count}");
        }

        for (name, kind, help, value) in [
            (
                "minijwt_login_queue_depth",
                "gauge",
                "Password checks waiting for an Argon2 slot now.",
                counts.login_queue,
            ),
            (
                "minijwt_password_hashes_running",
                "gauge",
                "Argon2 hashes running now.",
                counts.hashes_running,
            ),
            (
                "minijwt_open_connections",
                "gauge",
                "Connections open on the public listener now.",
                open_connections as u64,
            ),
            (
                "minijwt_database_errors_total",
                "counter",
                "Store operations that failed other than by a conflict (unavailable or a failed statement).",
                counts.store_errors,
            ),
        ] {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// Microseconds as seconds, exactly (`2500` → `0.0025`).
fn seconds(micros: u64) -> String {
    let (whole, fraction) = (micros / 1_000_000, micros % 1_000_000);
    if fraction == 0 {
        return whole.to_string();
    }
    let digits = format!("{fraction:06}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

/// Connections the metrics listener serves at once; past it a new one gets
/// 503 and is closed.
pub const METRICS_MAX_CONNECTIONS: usize = 4;

/// Largest request head the metrics listener reads, in bytes.
pub const METRICS_MAX_HEAD: usize = 8 * 1024;

/// The longest the metrics listener waits for a head, a body or a write.
pub const METRICS_TIMEOUT: Duration = Duration::from_secs(5);

/// The metrics listener's limits: a scraper sends one small GET.
///
/// ```
/// let limits = minijwt::http::metrics::limits();
/// assert_eq!((limits.max_connections, limits.max_body), (4, 0));
/// ```
pub fn limits() -> Limits {
    Limits {
        max_connections: METRICS_MAX_CONNECTIONS,
        max_head: METRICS_MAX_HEAD,
        max_target: 256,
        max_method: 16,
        max_headers: 32,
        head_timeout: METRICS_TIMEOUT,
        max_body: 0,
        body_timeout: METRICS_TIMEOUT,
        write_timeout: METRICS_TIMEOUT,
        linger: Duration::from_secs(1),
    }
}

/// The metrics listener: `GET /metrics` and nothing else (404), on an
/// address of its own.
pub struct MetricsServer {
    addr: SocketAddr,
    transport: tiny_http::Running,
}

impl MetricsServer {
    /// Binds `addr` and serves the metrics of `metrics` and `auth`, with the
    /// public listener's open connections read through `open`.
    pub fn start(
        addr: &str,
        metrics: Arc<Metrics>,
        auth: Arc<Auth>,
        open: tiny_http::OpenConnections,
    ) -> std::io::Result<MetricsServer> {
        let server = tiny_http::Server::http(addr).map_err(std::io::Error::other)?;
        let addr = server
            .server_addr()
            .to_ip()
            .ok_or_else(|| std::io::Error::other("not an IP address"))?;
        let transport = server.serve(limits(), Scrape { metrics, auth, open })?;
        Ok(MetricsServer { addr, transport })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops it and waits for its connections.
    pub fn shutdown(self) {
        self.transport.shutdown();
    }
}

/// The metrics listener's handler.
struct Scrape {
    metrics: Arc<Metrics>,
    auth: Arc<Auth>,
    open: tiny_http::OpenConnections,
}

impl tiny_http::Handler for Scrape {
    fn handle(&self, request: tiny_http::Request) -> ResponseBox {
        let path = request.url().split('?').next().unwrap_or_default();
        let response = if path == "/metrics" && request.method().as_str() == "GET" {
            Response {
                status: 200,
                headers: vec![(
                    "Content-Type".into(),
                    "text/plain; version=0.0.4; charset=utf-8".into(),
                )],
                body: self.metrics.render(&self.auth, self.open.get()).into_bytes(),
            }
        } else {
            Response::error(404, "not_found", "this listener serves GET /metrics only")
        };
        super::server::to_tiny(response)
    }

    fn refuse(&self, refusal: Refusal) -> ResponseBox {
        super::server::to_tiny(Response::error(
            refusal.status(),
            "refused",
            refusal.description(),
        ))
    }
}
