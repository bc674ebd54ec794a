//! The transport's own ceiling for the HTTP benchmarks: minijwt's fork of
//! tiny_http with the same limits as `minijwt serve`, answering every request
//! with a fixed body and doing nothing else. (bench/stock-hello is the same
//! program on the unmodified crates.io tiny_http 0.12.)
//!
//! `cargo run --release --example hello -- 127.0.0.1:18081`

use minijwt::http::server::{limits, MAX_CONNECTIONS};
use tiny_http::{Header, Request, Response, ResponseBox};

fn hello(_: Request) -> ResponseBox {
    let json = Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("a valid header");
    Response::from_data(&b"{\"hello\":\"world\"}"[..])
        .with_header(json)
        .boxed()
}

fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let server = match tiny_http::Server::http(&addr) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("hello: cannot listen on {addr}: {e}");
            std::process::exit(2);
        }
    };
    let running = match server.serve(limits(MAX_CONNECTIONS), hello) {
        Ok(running) => running,
        Err(e) => {
            eprintln!("hello: cannot serve: {e}");
            std::process::exit(2);
        }
    };
    eprintln!("hello: listening on http://{addr}");
    loop {
        std::thread::park();
        let _ = running.open_connections();
    }
}
