//! `kill -9` under load: clients keep logging in and refreshing, the server is
//! killed mid-load and restarted on the same database. Every refresh token a
//! client last received must still refresh: a current one as usual, and one
//! the server had rotated with a response the kill swallowed through the
//! grace window (the same successor again, so the client keeps its session).
//! None may be lost, and `PRAGMA integrity_check` must say ok.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

mod common;
use common::serve::{serve, workdir};
use common::{bytes_of, request, try_raw};

const CLIENTS: usize = 12;

/// One POST on a fresh connection; `None` when the connection broke (the
/// server was killed) before a full response arrived.
fn post(addr: SocketAddr, path: &str, body: &Value) -> Option<(u16, Value)> {
    let reply = try_raw(addr, &bytes_of(&request("POST", path, &[], Some(body)))).ok()?;
    Some((reply.status, reply.body))
}

fn jti(token: &str) -> String {
    minijwt::dangerous::decode_unverified(token).unwrap().claims()["jti"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn kill_9_under_load_loses_no_refresh_token() {
    let dir = workdir("crash");
    let mut server = serve(&dir, &[]);
    let addr = server.addr;

    // Each client: its own user, logged in, then refreshing in a loop; it
    // keeps the last refresh token it was handed.
    let held: Arc<Mutex<Vec<Option<String>>>> = Arc::new(Mutex::new(vec![None; CLIENTS]));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (held, stop) = (held.clone(), stop.clone());
            std::thread::spawn(move || {
                let credentials = json!({"username": format!("crash{i}"), "password": "crash-test-password"});
                let mut refreshes = 0usize;
                loop {
                    if stop.load(Ordering::SeqCst) {
                        return refreshes;
                    }
                    match post(addr, "/auth/register", &credentials) {
                        Some((201, _)) => break,
                        Some((503, _)) => std::thread::sleep(Duration::from_millis(20)),
                        // Killed before this client was registered (a slow machine).
                        None => return refreshes,
                        other => panic!("register: {other:?}"),
                    }
                }
                let mut token = loop {
                    if stop.load(Ordering::SeqCst) {
                        return refreshes;
                    }
                    match post(addr, "/auth/login", &credentials) {
                        Some((200, body)) => break body["refresh_token"].as_str().unwrap().to_owned(),
                        Some((503, _)) => std::thread::sleep(Duration::from_millis(20)),
                        None => return refreshes,
                        other => panic!("login: {other:?}"),
                    }
                };
                held.lock().unwrap()[i] = Some(token.clone());
                while !stop.load(Ordering::SeqCst) {
                    match post(addr, "/auth/refresh", &json!({"refresh_token": token})) {
                        Some((200, body)) => {
                            token = body["refresh_token"].as_str().unwrap().to_owned();
                            held.lock().unwrap()[i] = Some(token.clone());
                            refreshes += 1;
                        }
                        None => return refreshes, // the server died mid-request
                        Some(other) => panic!("refresh before the crash: {other:?}"),
                    }
                }
                refreshes
            })
        })
        .collect();

    // Let the load run (every client logged in, on a loaded machine too:
    // each login hashes a password), then kill the server without warning.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while held.lock().unwrap().iter().any(Option::is_none) && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    server.kill_9();
    stop.store(true, Ordering::SeqCst);
    let refreshes: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(refreshes > 100, "the load barely ran: {refreshes} refreshes");

    let held = held.lock().unwrap().clone();
    let db = rusqlite::Connection::open(dir.join("minijwt.db")).unwrap();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    // Before the restart: what the database says of each held token.
    let rotated: Vec<Option<bool>> = held
        .iter()
        .map(|token| {
            let token = token.as_ref()?;
            let rotated = db
                .query_row(
                    "SELECT rotated_at IS NOT NULL FROM refresh_tokens WHERE jti = ?1",
                    [jti(token)],
                    |row| row.get::<_, bool>(0),
                )
                .unwrap_or_else(|e| panic!("a refresh token handed out is lost: {e}"));
            Some(rotated)
        })
        .collect();
    drop(db);

    let mut server = serve(&dir, &[]);
    let addr = server.addr;
    let mut checked = 0;
    for (token, rotated) in held.iter().zip(&rotated) {
        let (Some(token), Some(rotated)) = (token, rotated) else {
            continue;
        };
        let (status, body) = post(addr, "/auth/refresh", &json!({"refresh_token": token})).unwrap();
        let what = match rotated {
            true => "a token rotated by a response the kill swallowed was not recovered by the grace window",
            false => "a current refresh token stopped working after kill -9",
        };
        assert_eq!(status, 200, "{what}: {body}");
        checked += 1;
    }
    let lost_responses = rotated.iter().filter(|r| **r == Some(true)).count();
    println!(
        "{refreshes} refreshes before the kill; after the restart {checked} held tokens refreshed, \
         {lost_responses} of them rotated by a response the kill swallowed (recovered within the grace window)"
    );
    assert!(
        checked >= CLIENTS / 2,
        "too few clients to judge: {checked} checked, {rotated:?}"
    );
    server.kill_9();
    let _ = std::fs::remove_dir_all(&dir);
}
