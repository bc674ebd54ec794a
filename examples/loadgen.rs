//! A closed-loop load generator for the requests `wrk` cannot make: refresh
//! with rotation, where every request must carry the token the previous
//! response returned. Each connection logs in its own user once, then keeps
//! refreshing over one keep-alive connection for the given time.
//!
//! `cargo run --release --example loadgen -- 127.0.0.1:8080 refresh 64 10`
//!
//! Prints requests per second, latency percentiles and the count of failures;
//! exits non-zero if any request failed or any connection got no answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [addr, mode, connections, seconds] = args.as_slice() else {
        eprintln!("usage: loadgen ADDR refresh CONNECTIONS SECONDS");
        std::process::exit(2);
    };
    if mode != "refresh" {
        eprintln!("loadgen: unknown mode {mode} (only `refresh`)");
        std::process::exit(2);
    }
    let connections: usize = connections.parse().expect("CONNECTIONS is a number");
    let duration = Duration::from_secs(seconds.parse().expect("SECONDS is a number"));
    let run = std::process::id();

    // Log everyone in first, so the timed part measures refreshes only.
    let clients: Vec<_> = (0..connections)
        .map(|i| {
            let addr = addr.clone();
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
                    match client.refresh() {
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
        "refresh: {} requests in {elapsed:.1} s = {:.0} req/s; p50 {:?}, p99 {:?}; failures {failures}",
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
    refresh_token: String,
}

impl Client {
    fn login(addr: &str, username: &str) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut client = Client {
            stream: BufReader::new(stream),
            refresh_token: String::new(),
        };
        let credentials = format!(r#"{{"username":"{username}","password":"load-test-password"}}"#);
        let (status, _) = client.post_retrying("/auth/register", &credentials);
        assert_eq!(status, 201, "register {username}");
        let (status, body) = client.post_retrying("/auth/login", &credentials);
        assert_eq!(status, 200, "login {username}");
        client.refresh_token = token(&body);
        client
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
        let (status, body) = self.post("/auth/refresh", &body).map_err(|e| e.to_string())?;
        if status != 200 {
            return Err(format!(
                "refresh answered {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        self.refresh_token = token(&body);
        Ok(())
    }

    fn post(&mut self, path: &str, body: &str) -> std::io::Result<(u16, Vec<u8>)> {
        // One write per request: several small writes would each wait for the
        // previous one's ACK (Nagle's algorithm against delayed ACKs, 40 ms).
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
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

fn token(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).expect("JSON body");
    value["refresh_token"]
        .as_str()
        .expect("a refresh_token")
        .to_owned()
}
