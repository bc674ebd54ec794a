//! A closed-loop load generator for the requests `wrk` cannot make, and for
//! loads spread over several servers. Each connection registers its own
//! user and logs in once, then repeats one request over one keep-alive
//! connection for the given time:
//!
//! - `refresh`: rotation, where every request carries the refresh token the
//!   previous response returned;
//! - `me`: `GET /me` with the connection's access token;
//! - `login`: `POST /auth/login` (Argon2id every time).
//!
//! `ADDR` may list several servers, comma-separated: connection i talks to
//! the (i mod n)-th, so that a load is spread evenly (several instances on
//! one PostgreSQL database; their tokens verify on any of them).
//!
//! `cargo run --release --example loadgen -- 127.0.0.1:8080 refresh 64 10`
//!
//! Prints requests per second, latency percentiles and the count of failures;
//! exits non-zero if any request failed or any connection got no answer.
//! A connection stops at its first failure (a refresh cannot go on from a
//! token it did not get), so `failures` counts connections that failed.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Refresh,
    Me,
    Login,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addrs, mode_name, connections, seconds] = args.as_slice() else {
        eprintln!("usage: loadgen ADDR[,ADDR...] refresh|me|login CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    let mode = match mode_name.as_str() {
        "refresh" => Mode::Refresh,
        "me" => Mode::Me,
        "login" => Mode::Login,
        _ => {
            eprintln!("loadgen: unknown mode {mode_name} (refresh, me or login)");
            std::process::exit(2);
        }
    };
    let addrs: Vec<String> = addrs.split(',').map(str::to_owned).collect();
    let connections: usize = connections.parse().expect("CONNECTIONS is a number");
    let duration = Duration::from_secs(seconds.parse().expect("SECONDS is a number"));
    let run = std::process::id();

    // Log everyone in first, so the timed part measures the mode's requests only.
    let clients: Vec<_> = (0..connections)
        .map(|i| {
            let addr = addrs[i % addrs.len()].clone();
            std::thread::spawn(move || Client::login(&addr, &format!("load{run}x{i}")))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("login thread"))
        .collect();

    let started = Instant::now();
    let workers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            std::thread::spawn(move || {
                let mut latencies = Vec::new();
                let mut failures = 0usize;
                while started.elapsed() < duration {
                    let t = Instant::now();
                    match client.step(mode) {
                        Ok(()) => latencies.push(t.elapsed()),
                        Err(e) => {
                            failures += 1;
                            eprintln!("loadgen: {e}");
                            break;
                        }
                    }
                }
                (latencies, failures)
            })
        })
        .collect();
    let mut latencies = Vec::new();
    let mut failures = 0;
    for worker in workers {
        let (l, f) = worker.join().expect("worker thread");
        latencies.extend(l);
        failures += f;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 * p) as usize).min(latencies.len().saturating_sub(1)))
            .copied()
    };
    println!(
        "{mode_name}: {} requests in {elapsed:.1} s = {:.0} req/s; p50 {:?}, p99 {:?}; failures {failures}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        pct(0.50).unwrap_or_default(),
        pct(0.99).unwrap_or_default(),
    );
    if failures > 0 || latencies.is_empty() {
        std::process::exit(1);
    }
}

struct Client {
    stream: BufReader<TcpStream>,
    credentials: String,
    refresh_token: String,
    access_token: String,
}

impl Client {
    fn login(addr: &str, username: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut client = Client {
            stream: BufReader::new(stream),
            credentials: format!(r#"{{"username":"{username}","password":"load-test-password"}}"#),
            refresh_token: String::new(),
            access_token: String::new(),
        };
        let credentials = client.credentials.clone();
        let (status, _) = client.post_retrying("/auth/register", &credentials);
        assert_eq!(status, 201, "register {username}");
        let (status, body) = client.post_retrying("/auth/login", &credentials);
        assert_eq!(status, 200, "login {username}");
        client.refresh_token = token(&body, "refresh_token");
        client.access_token = token(&body, "access_token");
        client
    }

    /// One request of `mode`; anything but its success status is a failure.
    fn step(&mut self, mode: Mode) -> Result<(), String> {
        match mode {
            Mode::Refresh => self.refresh(),
            Mode::Me => {
                let authorization = format!("Authorization: Bearer {}\r\n", self.access_token);
                let answer = self.send("GET", "/me", &authorization, "");
                expect(200, answer).map(drop)
            }
            Mode::Login => {
                let credentials = self.credentials.clone();
                expect(200, self.post("/auth/login", &credentials)).map(drop)
            }
        }
    }

    /// Password hashing is bounded: 503 means "retry shortly", so do.
    fn post_retrying(&mut self, path: &str, body: &str) -> (u16, Vec<u8>) {
        for _ in 0..600 {
            match self.post(path, body).expect("request") {
                (503, _) => std::thread::sleep(Duration::from_millis(50)),
                answer => return answer,
            }
        }
        panic!("{path} answered 503 for 30 s");
    }

    fn refresh(&mut self) -> Result<(), String> {
        let body = format!(r#"{{"refresh_token":"{}"}}"#, self.refresh_token);
        let body = expect(200, self.post("/auth/refresh", &body))?;
        self.refresh_token = token(&body, "refresh_token");
        Ok(())
    }

    fn post(&mut self, path: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
        self.send("POST", path, "Content-Type: application/json\r\n", body)
    }

    /// A request with `headers` (each line ending in CRLF) and `body`.
    fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        // One write per request: several small writes would each wait for the
        // previous one's ACK (Nagle's algorithm against delayed ACKs, 40 ms).
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: load\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes())?;
        let mut line = String::new();
        self.stream.read_line(&mut line)?;
        let status = line.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            self.stream.read_line(&mut line)?;
            if line.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0; length];
        self.stream.read_exact(&mut body)?;
        Ok((status, body))
    }
}

/// The body of an answer with status `wanted`; any other answer, or none, is an error.
fn expect(wanted: u16, answer: std::io::Result<(u16, Vec<u8>)>) -> Result<Vec<u8>, String> {
    match answer {
        Ok((status, body)) if status == wanted => Ok(body),
        Ok((status, body)) => Err(format!("answered {status}: {}", String::from_utf8_lossy(&body))),
        Err(e) => Err(e.to_string()),
    }
}

fn token(body: &[u8], field: &str) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON body");
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field}"))
        .to_owned()
}
