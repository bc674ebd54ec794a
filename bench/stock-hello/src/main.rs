//! A hello-world server on the unmodified tiny_http 0.12.0, two threads
//! calling `recv()`: the ceiling `bench/http.sh` measures minijwt against.
//!
//! `cargo run --release --manifest-path bench/stock-hello/Cargo.toml -- 127.0.0.1:18180`

use std::sync::Arc;

fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:18180".to_owned());
    let server = match tiny_http::Server::http(&addr) {
        Ok(server) => Arc::new(server),
        Err(e) => {
            eprintln!("stock-hello: cannot listen on {addr}: {e}");
            std::process::exit(2);
        }
    };
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let server = server.clone();
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    let json = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
                        .expect("a valid header");
                    let response = tiny_http::Response::from_data(&b"{\"hello\":\"world\"}"[..]).with_header(json);
                    let _ = request.respond(response);
                }
            })
        })
        .collect();
    for thread in threads {
        let _ = thread.join();
    }
}
