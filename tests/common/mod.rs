//! An HTTP/1.1 client written by hand for the server tests: every byte on
//! the wire is the test's, so keep-alive, lying lengths and bad headers can be
//! sent as they are. Shared by the test files that `mod common;` it; each uses
//! a part, hence the `allow`.
#![allow(dead_code)]

pub mod expect;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use minijwt::auth::{Auth, AuthConfig, SystemClock};
use minijwt::http::server::{Options, RunningServer};
use minijwt::store::Store;
use minijwt::Hs256Key;
use serde_json::{json, Value};

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Reply {
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

/// Reads one response from a buffered connection.
pub fn read_reply(reader: &mut impl BufRead) -> std::io::Result<Reply> {
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let status = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {line:?}")))?;
    let mut headers = Vec::new();
    loop {
        line.clear();
        reader.read_line(&mut line)?;
        let trimmed = line.trim_end();
        if trimmed.is_empty() {
            break;
        }
        let (name, value) = trimmed.split_once(':').unwrap();
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let body = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&body).unwrap()
    };
    Ok(Reply {
        status,
        headers,
        body,
    })
}

/// Sends raw bytes on a new connection and reads one response.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Reply {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(bytes).unwrap();
    read_reply(&mut BufReader::new(stream)).unwrap()
}

pub fn call(addr: SocketAddr, method: &str, path: &str, bearer: Option<&str>, body: Option<&Value>) -> Reply {
    let authorization = bearer.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("Authorization", value.as_str()))
        .collect();
    call_with_headers(addr, method, path, &headers, body)
}

/// A request with the given headers and, if any, a JSON body.
pub fn call_with_headers(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Reply {
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    let body = body.map(Value::to_string).unwrap_or_default();
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    raw(addr, request.as_bytes())
}

/// `POST /notes` with `text`, as the holder of `access`.
pub fn post_note(addr: SocketAddr, access: &str, text: &str) -> Reply {
    call(
        addr,
        "POST",
        "/notes",
        Some(access),
        Some(&json!({ "text": text })),
    )
}

pub fn post(addr: SocketAddr, path: &str, body: Value) -> Reply {
    call(addr, "POST", path, None, Some(&body))
}

pub fn register(addr: SocketAddr, username: &str) -> Reply {
    post(
        addr,
        "/auth/register",
        json!({"username": username, "password": PASSWORD}),
    )
}

pub fn login(addr: SocketAddr, username: &str) -> Reply {
    post(
        addr,
        "/auth/login",
        json!({"username": username, "password": PASSWORD}),
    )
}

pub fn user(addr: SocketAddr, username: &str) -> Reply {
    assert_eq!(register(addr, username).status, 201);
    let reply = login(addr, username);
    assert_eq!(reply.status, 200, "{reply:?}");
    reply
}

pub fn refresh(addr: SocketAddr, refresh_token: &str, access_token: Option<&str>) -> Reply {
    let mut body = json!({"refresh_token": refresh_token});
    if let Some(access) = access_token {
        body["access_token"] = json!(access);
    }
    post(addr, "/auth/refresh", body)
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

/// A server on a free port of 127.0.0.1 with the default limits of
/// `minijwt serve`, an in-memory store and the system clock.
pub fn start_default_server() -> RunningServer {
    let auth = Auth::new(
        Store::open_in_memory().unwrap(),
        Hs256Key::new(&[4; 32]).unwrap(),
        AuthConfig::default(),
        std::sync::Arc::new(SystemClock),
    )
    .unwrap();
    RunningServer::start(std::sync::Arc::new(auth), "127.0.0.1:0", Options::default()).unwrap()
}
