//! The ceiling for the HTTP benchmarks: the same patched tiny_http and the
//! same worker-thread shape as `minijwt serve`, answering every request with a
//! fixed body and doing nothing else.
//!
//! `cargo run --release --example hello -- 127.0.0.1:18081 16`

use std::sync::Arc;

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18081".to_owned());
    let workers: usize = args.next().and_then(|w| w.parse().ok()).unwrap_or(16);
    let server = match tiny_http::Server::http(&addr) {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("hello: cannot listen on {addr}: {e}");
            std::process::exit(2);
        }
    };
    eprintln!("hello: listening on http://{addr}, {workers} workers");
    let threads: Vec<_> = (0..workers)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || loop {
                let Ok(request) = server.recv() else { return };
                let response = tiny_http::Response::from_data(&b"{\"hello\":\"world\"}"[..]).with_header(
                    tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .expect("a valid header"),
                );
                let _ = request.respond(response);
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
