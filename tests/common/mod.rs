//! What the test files share; each `mod common;`s it and uses a part, hence
//! the `allow`.
//!
//! - The one HTTP client: [`call`] and the helpers on it ([`post`],
//!   [`register`], [`login`], [`user`], [`refresh`], …) send a
//!   [`Request`] to a [`Target`], either a server over TCP (a
//!   [`SocketAddr`]) or [`router::handle`] in this process (an [`Auth`]), with
//!   no socket, the way ureq tests against an in-memory transport. Both give
//!   a [`Reply`].
//! - [`wire`]: raw bytes on a connection, for tests whose bytes are the point
//!   (keep-alive, lying lengths, smuggling), and what came back.
//! - [`server`]: the one server fixture, [`TestServer`], and [`in_process`]
//!   for the router alone; [`serve`]: `minijwt serve` as a child process.
//! - [`expect`]: what decoding a token must give.
#![allow(dead_code, unused_imports)]

pub mod expect;
pub mod serve;
pub mod server;
pub mod wire;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use minijwt::auth::Auth;
use minijwt::http::{router, Request, Response};
use serde_json::{json, Value};

pub use server::*;
pub use wire::*;

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// A response, from either kind of [`Target`].
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    /// The body as JSON when it is declared JSON; `Null` when empty or not JSON.
    pub body: Value,
    /// The body as it came.
    pub bytes: Vec<u8>,
}

impl Reply {
    /// A reply from its parts; a body declared JSON that is not is an error.
    pub fn new(status: u16, headers: Vec<(String, String)>, bytes: Vec<u8>) -> Result<Reply, String> {
        let declared_json = headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case("Content-Type") && v.contains("json"));
        let body = match declared_json && !bytes.is_empty() {
            true => serde_json::from_slice(&bytes)
                .map_err(|e| format!("a JSON body that is not JSON ({e}): {}", show(&bytes)))?,
            false => Value::Null,
        };
        Ok(Reply {
            status,
            headers,
            body,
            bytes,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or_default()
    }
    pub fn text(&self, field: &str) -> String {
        self.body[field]
            .as_str()
            .unwrap_or_else(|| panic!("no {field} in {}", self.body))
            .to_owned()
    }
}

/// Where a request goes: see [`call`].
pub trait Target: Copy {
    fn send(self, request: &Request) -> Reply;
}

/// A server over TCP: one new connection per request, closed after it.
impl Target for SocketAddr {
    fn send(self, request: &Request) -> Reply {
        raw(self, &wire::bytes_of(request))
    }
}

/// The router in this process, with no socket: what the server would answer
/// a client on 127.0.0.1, short of the transport (framing, limits, timeouts).
impl Target for &Auth {
    fn send(self, request: &Request) -> Reply {
        let mut request = request.clone();
        request.client.get_or_insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let Response {
            status,
            headers,
            body,
        } = router::handle(self, &request);
        Reply::new(status, headers, body).unwrap()
    }
}

/// A request with the given headers and, if any, a JSON body.
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Request {
    let request = headers
        .iter()
        .fold(Request::new(method, path), |r, (name, value)| {
            r.with_header(name, value)
        });
    match body {
        Some(body) => request.with_json(body),
        None => request,
    }
}

/// A request with, if any, a bearer token and a JSON body.
pub fn call(to: impl Target, method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
    let authorization = bearer.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    call_with_headers(to, method, path, &headers, body)
}

/// A request with the given headers and, if any, a JSON body.
pub fn call_with_headers(
    to: impl Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    to.send(&request(method, path, headers, body))
}

/// `POST /notes` with `text`, as the holder of `access`.
pub fn post_note(to: impl Target, access: &str, text: &str) -> Reply {
    call(to, "POST", "/notes", Some(access), Some(&json!({ "text": text })))
}

pub fn post(to: impl Target, path: &str, body: Value) -> Reply {
    call(to, "POST", path, None, Some(&body))
}

pub fn register(to: impl Target, username: &str) -> Reply {
    post(
        to,
        "/auth/register",
        json!({"username": username, "password": PASSWORD}),
    )
}

pub fn login(to: impl Target, username: &str) -> Reply {
    post(
        to,
        "/auth/login",
        json!({"username": username, "password": PASSWORD}),
    )
}

/// Registers `username` and logs in: the login's reply.
pub fn user(to: impl Target, username: &str) -> Reply {
    assert_eq!(register(to, username).status, 201);
    let reply = login(to, username);
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
}

pub fn refresh(to: impl Target, refresh_token: &str, access_token: Option<&str>) -> Reply {
    let mut body = json!({"refresh_token": refresh_token});
    if let Some(access) = access_token {
        body["access_token"] = json!(access);
    }
    post(to, "/auth/refresh", body)
}

/// A field of /proc/self/status, as a number (`Threads`, `VmRSS` in kB).
pub fn status_of_this_process(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
        .trim()
        .trim_end_matches(" kB")
        .parse()
        .unwrap()
}

/// (threads, open descriptors) of this process.
pub fn threads_and_descriptors() -> (usize, usize) {
    let descriptors = std::fs::read_dir("/proc/self/fd").unwrap().count();
    (status_of_this_process("Threads"), descriptors)
}

/// Whether `now` is back within a few threads and descriptors of `before`
/// (the test harness and tiny_http's pool come and go by a few).
pub fn back_down(before: (usize, usize), now: (usize, usize)) -> bool {
    now.0 <= before.0 + 8 && now.1 <= before.1 + 8
}

/// Waits up to 15 s (idle pool threads end after a few seconds) for the
/// threads and descriptors to come back down near `before`; returns the
/// last count.
pub fn settle(before: (usize, usize)) -> (usize, usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while !back_down(before, threads_and_descriptors()) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    threads_and_descriptors()
}

/// Asserts `reply` is an error with exactly the body every error has:
/// `{"error": code, "error_description": text}`, as JSON.
pub fn assert_error_body(reply: &Reply, status: u16, code: &str) {
    assert_eq!((reply.status, reply.error()), (status, code), "{reply:?}");
    assert_eq!(reply.header("Content-Type"), Some("application/json"));
    let fields: std::collections::BTreeSet<&str> = reply
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        std::collections::BTreeSet::from(["error", "error_description"]),
        "{reply:?}"
    );
    assert!(!reply.text("error_description").is_empty());
}

/// `GET /metrics` from a metrics listener: each sample (`name{labels}` as
/// written) and its value, after checking the reply is the Prometheus text
/// format 0.0.4: its content type, every line a comment (`# HELP` / `# TYPE`)
/// or a sample of a family declared by a `# TYPE` line before it.
pub fn scrape(addr: SocketAddr) -> std::collections::BTreeMap<String, f64> {
    let reply = call(addr, "GET", "/metrics", None, None);
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("Content-Type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = String::from_utf8(reply.bytes).unwrap();
    assert!(text.ends_with('\n'));
    let mut families: Vec<(String, String)> = Vec::new();
    let mut samples = std::collections::BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            families.push((name.to_owned(), kind.to_owned()));
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line:?}"));
        let name = series.split('{').next().unwrap();
        assert!(
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{line:?}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            if !labels.is_empty() {
                let inner = labels
                    .strip_prefix('{')
                    .and_then(|l| l.strip_suffix("\"}"))
                    .unwrap_or_else(|| panic!("{line:?}"));
                for pair in inner.split("\",") {
                    let (key, value) = pair.split_once("=\"").unwrap_or_else(|| panic!("{line:?}"));
                    assert!(!key.is_empty() && !value.contains('"'), "{line:?}");
                }
            }
        }
        let (family, kind) = families
            .last()
            .unwrap_or_else(|| panic!("no # TYPE before {line:?}"));
        match kind.as_str() {
            "histogram" => assert!(
                ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix) == Some(family)),
                "{line:?} in {family}"
            ),
            _ => assert_eq!(name, family, "{line:?}"),
        }
        if kind == "counter" {
            assert!(name.ends_with("_total"), "{line:?}");
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("not a number: {line:?}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "twice: {line:?}"
        );
    }
    samples
}
